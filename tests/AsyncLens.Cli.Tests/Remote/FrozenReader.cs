using System.Diagnostics;
using System.Runtime.InteropServices;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// <c>asynclens ARGS</c> run on a target and frozen (SIGSTOP) while it has the target stopped, however short the stop:
/// a test can then kill either of them in the middle of a read. A freeze that lands after the stop (asynclens let the
/// target go first) does not count: asynclens is let finish and started again.
/// </summary>
internal sealed partial class FrozenReader : IDisposable
{
    private const int Sigcont = 18;
    private const int Sigstop = 19;

    private FrozenReader(Process process)
    {
        Process = process;
        Stdout = process.StandardOutput.ReadToEndAsync();
        Stderr = process.StandardError.ReadToEndAsync();
    }

    public Process Process { get; }

    public Task<string> Stdout { get; }

    public Task<string> Stderr { get; }

    /// <summary>Runs asynclens until it is frozen with <paramref name="chains"/> stopped by it (20 tries).</summary>
    public static FrozenReader Start(ParkedChains chains, params string[] args)
    {
        for (var attempt = 1; attempt <= 20; attempt++)
        {
            var start = new ProcessStartInfo(ChildProcess.DotnetPath()) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in (string[])[Repo.Cli, .. args])
                start.ArgumentList.Add(arg);
            var reader = new FrozenReader(Process.Start(start)!);
            var watch = Stopwatch.StartNew();
            while (!reader.Process.HasExited && !chains.AllThreadsTracedBy(reader.Process.Id) && watch.Elapsed < TimeSpan.FromSeconds(60))
                Thread.SpinWait(100);
            if (!reader.Process.HasExited && kill(reader.Process.Id, Sigstop) == 0)
            {
                while (!reader.Process.HasExited && !File.ReadLines($"/proc/{reader.Process.Id}/status").Any(l => l.StartsWith("State:\tT", StringComparison.Ordinal)))
                    Thread.Sleep(1);
                if (chains.State().StartsWith('t') && chains.AllThreadsTracedBy(reader.Process.Id))
                    return reader;
            }
            reader.Thaw();
            Assert.True(reader.Process.WaitForExit(TimeSpan.FromSeconds(60)), "asynclens did not finish its read");
            reader.Dispose();
        }
        throw new InvalidOperationException("asynclens was never frozen while it had the process stopped (20 tries)");
    }

    public void Thaw() => kill(Process.Id, Sigcont);

    public void Dispose() => Process.Dispose();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
