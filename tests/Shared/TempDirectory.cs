namespace AsyncLens.Testing;

/// <summary>A fresh directory under the temp directory, deleted with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    private readonly DirectoryInfo _dir;

    public TempDirectory(string prefix) => _dir = Directory.CreateTempSubdirectory(prefix);

    /// <summary>The full path of <paramref name="name"/> in it.</summary>
    public string File(string name) => Path.Combine(_dir.FullName, name);

    public void Dispose() => _dir.Delete(recursive: true);
}
