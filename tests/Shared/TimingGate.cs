namespace AsyncLens.Testing;

/// <summary>
/// One timing-sensitive program at a time, machine-wide. Debug mode measures wall time; the test runner
/// runs test assemblies and classes in parallel, and several programs at once on two cores would measure
/// the machine rather than the program.
/// </summary>
internal static class TimingGate
{
    private static readonly string s_lockFile = Path.Combine(Path.GetTempPath(), "asynclens-tests-timing.lock");

    public static IDisposable Enter()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (true)
        {
            try
            {
                return new FileStream(s_lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }
        }
    }
}
