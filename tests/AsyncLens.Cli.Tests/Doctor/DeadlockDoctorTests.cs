using System.Text.Json;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>
/// <c>asynclens doctor PID</c> on tests/Targets/Deadlocks, deadlocked each way: the verdict is <c>deadlock</c>, the
/// cycle named link by link with the lines marked in the target, exit code 1.
/// </summary>
public sealed class DeadlockDoctorTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Deadlocks"));

    private static string At(string tag) => $"{s_at[tag].File}:{s_at.Line(tag)}";

    [Fact]
    public void Tasks_awaiting_each_other()
    {
        using var target = new StuckProgram("Deadlocks", "tasks");
        var result = DoctorRun.Run(target.Pid);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith($"asynclens doctor: deadlock (pid {target.Pid}, ", result.Stdout);
        Assert.Equal([$"deadlock: 2 waits in a cycle: `Catalog.LoadPricesAsync()` at {At("dl.prices.await")} waits for `Catalog.LoadCurrenciesAsync()` at {At("dl.currencies.await")} waits for `Catalog.LoadPricesAsync()`"],
            DoctorRun.Verdicts(result));
    }

    [Fact]
    public void A_thread_blocked_on_a_task_that_awaits_the_work_the_thread_runs()
    {
        using var target = new StuckProgram("Deadlocks", "thread");
        var result = DoctorRun.Run(target.Pid);

        Assert.True(result.ExitCode == 1, result.ToString());
        var verdict = Assert.Single(DoctorRun.Verdicts(result));
        Assert.Matches(@"^deadlock: 3 waits in a cycle: thread (\d+), blocked \(\.Wait\(\)\) in `Journal\.Flush\(\)` at " + Esc(At("dl.flush.wait"))
            + @" waits for `Journal\.WriteAsync\(string\)` at " + Esc(At("dl.write.await"))
            + @" waits for `Task\.Run\(Journal\.Flush\(\)\)` at [^ ]+Scenarios\.cs:\d+ \(running on thread \1\) waits for thread \1$", verdict);
    }

    [Fact]
    public void Two_threads_taking_two_locks_in_opposite_order()
    {
        using var target = new StuckProgram("Deadlocks", "locks");
        var result = DoctorRun.Run(target.Pid);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Matches(@"^deadlock: 2 threads in a cycle of locks: thread (\d+), blocked entering a lock \(List\) in `Ledger\.Transfer\(\)` at " + Esc(At("dl.transfer.lock"))
            + @", held by thread (\d+); thread \2, blocked entering a lock \(Object\) in `Ledger\.Audit\(\)` at " + Esc(At("dl.audit.lock")) + @", held by thread \1$",
            Assert.Single(DoctorRun.Verdicts(result)));
    }

    [Fact]
    public void Result_on_a_single_threaded_context_in_json()
    {
        using var target = new StuckProgram("Deadlocks", "context");
        var result = DoctorRun.Run(target.Pid, "--format", "json");

        Assert.True(result.ExitCode == 1, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.False(json.RootElement.GetProperty("healthy").GetBoolean());
        var verdict = Assert.Single(json.RootElement.GetProperty("verdicts").EnumerateArray());
        Assert.Equal("deadlock", verdict.GetProperty("kind").GetString());
        Assert.Matches(@"^thread \d+ blocked \(\.Result\) in `UiLoop\.OnClick\(\)` at " + Esc(At("dl.click.result")) + " waiting for `UiLoop\\.LoadTitleAsync\\(\\)`, whose continuation after "
            + Esc(At("dl.title.await")) + @" is queued to run on the blocked thread's own context \(a single-threaded SynchronizationContext\): neither can go on$",
            verdict.GetProperty("summary").GetString());
        Assert.Equal(
            $$"""[{"role":"blocked","method":"UiLoop.OnClick()","file":"{{s_at["dl.click.result"].File}}","line":{{s_at.Line("dl.click.result")}}},{"role":"resuming","method":"UiLoop.LoadTitleAsync()","file":"{{s_at["dl.title.await"].File}}","line":{{s_at.Line("dl.title.await")}}}]""",
            verdict.GetProperty("sites").GetRawText());
    }

    private static string Esc(string text) => System.Text.RegularExpressions.Regex.Escape(text);
}
