using System.Diagnostics;
using System.Text;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>
/// <c>asynclens doctor PID</c> on the real applications' healthy modes while they work, Debug and Release: the
/// database worker (Npgsql + Dapper on PostgreSQL, StackExchange.Redis) and the Channels pipeline must read as healthy.
/// </summary>
public sealed class HealthyAppsDoctorTests
{
    // A fresh-clone CI run (2026-12-05) read the Release worker as hot-thread: a package's socket writer loop
    // (StackExchange.Redis's `SwitchableBufferedStreamWriter.CopyOutAsync`) 99 % runnable for 1 s while the worker
    // hammers its servers. hot-thread judges the app's own code only (CodeOrigin.KindOfFile: packages are not).
    // The next one (2026-12-05) read it as stuck-requests: "20 pending at `Healthy.CacheCustomerAsync(IDatabase, Customer)`
    // ..., waiting for a TaskCompletionSource each": StackExchange.Redis's replies in flight, each on a TaskCompletionSource
    // of its own. Stuck now needs the same ones still parked at a second read; the worker keeps 64 writes in flight at
    // once beside its rounds (`busy`), which one read took for stuck in 6 of 6 reads before.
    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void The_database_worker_at_work_is_healthy(string configuration) =>
        AssertHealthyWhileRunning("DbWorker", configuration, ["busy", "100000"], Servers.DbWorkerEnvironment());

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void The_pipeline_at_work_is_healthy(string configuration) =>
        AssertHealthyWhileRunning("Pipelines", configuration, ["healthy", "10000000"], null);

    private static void AssertHealthyWhileRunning(string project, string configuration, string[] args, Dictionary<string, string?>? env)
    {
        var start = TargetRuntime.Net10.StartInfo();
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.ArgumentList.Add(Repo.Program(project, configuration));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        start.Environment.Remove("DOTNET_STARTUP_HOOKS");
        foreach (var (name, value) in env ?? [])
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        _ = Task.Run(() => ChildProcess.ReadLinesAsync(process.StandardOutput, output, _ => { }));
        _ = Task.Run(() => ChildProcess.ReadLinesAsync(process.StandardError, output, _ => { }));
        try
        {
            Thread.Sleep(3000); // connected, its types loaded, at work
            Assert.False(process.HasExited, $"{project} ended before it was read:\n{output}");
            var result = DoctorRun.Run(process.Id);

            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.StartsWith($"asynclens doctor: healthy (pid {process.Id}, ", result.Stdout);
            Assert.Matches(@"^healthy: nothing stuck: \d+ threads \(\d+ in the thread pool, \d+ idle, 0 blocked\), [\d,]+ pending tasks?, [\d,]+ work items? queued(; the main thread waits in `Program\.<Main>\(string\[\]\)`, for the app to end)?$",
                Assert.Single(DoctorRun.Verdicts(result)));
            Assert.False(process.HasExited, $"{project} ended while it was read:\n{output}");
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            process.WaitForExit();
            ChildProcess.WaitForOutput(process);
        }
    }
}
