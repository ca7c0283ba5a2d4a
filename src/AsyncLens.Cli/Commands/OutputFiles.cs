namespace AsyncLens.Cli.Commands;

/// <summary>Files a command will write (reports, a profile): refused up front, in one line, when they cannot be written.</summary>
internal static class OutputFiles
{
    /// <summary>Fails unless <paramref name="path"/> can be opened for writing; leaves no file behind that was not there.</summary>
    /// <param name="path">The file.</param>
    /// <param name="what">What goes in it, for the message ("the profile", "reports").</param>
    public static void CheckWritable(string path, string what)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full);
        if (dir is null || !Directory.Exists(dir))
            throw new CliException($"cannot write {what} to '{path}': directory '{dir}' does not exist");
        var existed = File.Exists(full);
        try
        {
            using (new FileStream(full, FileMode.OpenOrCreate, FileAccess.Write))
            {
            }
            if (!existed)
                File.Delete(full);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot write {what} to '{path}': {ex.Message}");
        }
    }
}
