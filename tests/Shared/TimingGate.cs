namespace AsyncLens.Testing;

/// <summary>
/// One timing-sensitive program at a time, machine-wide. Debug mode measures wall time; the test runner
/// runs test assemblies and classes in parallel, and several programs at once on two cores would measure
/// the machine rather than the program. With ASYNCLENS_GATE_LOG=FILE, each hold is logged to FILE (time held, time
/// waited for it, the test class and method that held it): how much of a suite runs one program at a time.
/// </summary>
internal static class TimingGate
{
    private static readonly string s_lockFile = Path.Combine(Path.GetTempPath(), "asynclens-tests-timing.lock");
    private static readonly string? s_log = Environment.GetEnvironmentVariable("ASYNCLENS_GATE_LOG");
    private static readonly Lock s_logLock = new();

    public static IDisposable Enter()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var fs = new FileStream(s_lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
                return s_log is null ? fs : new Logged(fs, started.ElapsedMilliseconds);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }
        }
    }

    private sealed class Logged(FileStream fs, long waited) : IDisposable
    {
        private readonly System.Diagnostics.Stopwatch _held = System.Diagnostics.Stopwatch.StartNew();
        private readonly string _who = Who();

        private static string Who()
        {
            foreach (var f in new System.Diagnostics.StackTrace().GetFrames())
            {
                var t = f.GetMethod()?.DeclaringType;
                if (t?.FullName is { } n && n.Contains(".Tests.") && !n.Contains("Testing"))
                    return n + "." + f.GetMethod()!.Name;
            }
            return "?";
        }

        public void Dispose()
        {
            fs.Dispose();
            lock (s_logLock)
                File.AppendAllText(s_log!, $"{DateTime.UtcNow:HH:mm:ss.fff} held {_held.ElapsedMilliseconds} waited {waited} {_who}\n");
        }
    }
}
