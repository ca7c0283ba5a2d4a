using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// <c>asynclens ps / pstree / stacks / threads PID</c> on tests/Targets/Chains running with no AsyncLens in it:
/// the exact chains and lines, read from its heap and PDB from outside; the same from a core dump; the
/// process left running, even when asynclens is killed mid-read. The reads themselves on .NET 10 and .NET 11 (the
/// suite's second leg: asynclens and Chains both on .NET 11).
/// </summary>
public sealed partial class RemoteReadTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Chains"));

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";

    // A thread blocked in ManualResetEventSlim.Wait, above it: .NET 11 waits in managed code (its wait subsystem) where
    // .NET 10 calls into the runtime's Monitor.Wait.
    private static readonly Dictionary<string, string> s_monitorWait = new()
    {
        ["net10"] = @"    Monitor\.Wait\(object, int\)\n",
        ["net11"] = @"    WaitSubsystem\.ThreadWaitInfo\.Wait\(int, bool, bool, ref WaitSubsystem\.LockHolder\)\n"
            + @"    WaitSubsystem\.Wait\(WaitSubsystem\.IWaitableObject, WaitSubsystem\.ThreadWaitInfo, int, bool\)\n"
            + @"    WaitHandle\.WaitOneNoCheck\(int, bool, object, byte\)\n"
            + @"    Condition\.Wait\(int, object\)\n",
    };

    private static ProcessResult Asynclens(params string[] args) => AsynclensOn("net10", args);

    /// <summary>asynclens on <paramref name="runtime"/> (its read of a .NET 11 process runs on .NET 11, as where only it is installed).</summary>
    private static ProcessResult AsynclensOn(string runtime, params string[] args) =>
        ChildProcess.Dotnet([Repo.Cli, .. args], timed: false, runtime: TargetRuntime.Named(runtime));

    /// <summary>The tree of the parked Chains as read from outside: what the in-process tree shows, plus the outside mode's own chains.</summary>
    private static string ExpectedTree() =>
        $$"""
        Blocking.ServeAsync() at {{At("chains.hold-caller")}}
        └── Blocking.HoldThreadAsync() (running)

        Cycle.WaitForAsync(Task, Func<Task>) at {{At("chains.cycle")}} <- in an await cycle: a deadlock
        └── Cycle.WaitForAsync(Task, Func<Task>) at {{At("chains.cycle")}}
            └── (back to Cycle.WaitForAsync(Task, Func<Task>): an await cycle)

        Program.Main(string[]) at {{At("chains.main-outside")}}
        └── TaskCompletionSource

        {{ChainsTrees.Scenario(At, outside: true)}}
        """;

    /// <summary>The header line and the rest, thread ids (which vary from run to run) written <c>Thread N</c>.</summary>
    private static (string Header, string Body) Split(string output)
    {
        var text = Regex.Replace(output.Replace("\r\n", "\n", StringComparison.Ordinal), @"\bThread \d+, blocked", "Thread N, blocked");
        var newline = text.IndexOf('\n', StringComparison.Ordinal);
        Assert.True(newline > 0, output);
        return (text[..newline], text[(newline + 1)..].Trim('\n'));
    }

    [Theory]
    [InlineData("net10")]
    [InlineData("net11")]
    public void Pstree_reads_the_await_tree_of_a_process_with_no_agent_in_it(string runtime)
    {
        using var chains = new ParkedChains(TargetRuntime.Named(runtime));
        var result = AsynclensOn(runtime, "pstree", chains.PidText);
        Assert.True(result.ExitCode == 0, result.ToString());
        var (header, body) = Split(result.Stdout);
        Assert.Matches($@"^asynclens: 2029 pending tasks in 4 trees \(pid {chains.Pid}, [0-9T:-]+Z\)$", header);
        Assert.Equal(ExpectedTree(), body);
        Assert.Equal("", result.Stderr);
    }

    [Theory]
    [InlineData("net10")]
    [InlineData("net11")]
    public void Stacks_go_root_to_leaf_with_lines(string runtime)
    {
        using var chains = new ParkedChains(TargetRuntime.Named(runtime));
        var result = AsynclensOn(runtime, "stacks", chains.PidText, "--stats");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches($@"^asynclens: 2029 pending tasks in 17 async stacks \(pid {chains.Pid}, [0-9T:-]+Z\)\n", result.Stdout);
        Assert.Contains(
            $"""

            x1000
                Task.WhenAll (12 pending)
                Requests.FloodAsync(int) at {At("chains.flood")}
                Task.WhenAll (1000 pending)
                Requests.ProcessAsync(int) at {At("chains.process")}
                Requests.QueryAsync(int) at {At("chains.query")}
                awaiting Task.Delay

            x2
                Task.WhenAll (12 pending)
                Server.ServeAsync() at {At("chains.serve")}
                Task.WhenAll (3 pending)
                Server.HandleAsync(int) at {At("chains.handle-fetch")}
                Store.FetchAsync(int) at {At("chains.fetch")}
                awaiting TaskCompletionSource <- one task awaited by 12

            """,
            result.Stdout);
        Assert.Contains(
            $"""

            x1
                Blocking.ServeAsync() at {At("chains.hold-caller")}
                Blocking.HoldThreadAsync() (running)
                running

            """,
            result.Stdout);
        Assert.Matches($@"^asynclens: [0-9,]+ nodes from [0-9,]+ heap objects; process {chains.Pid} paused [0-9.]+ s( in \d stops \(a garbage collection was running\))?, [0-9.]+ MB copied; read in [0-9.]+ s\n$", result.Stderr);
    }

    [Theory]
    [InlineData("net10")]
    [InlineData("net11")]
    public void Ps_lists_each_pending_task_as_text_json_and_csv(string runtime)
    {
        using var chains = new ParkedChains(TargetRuntime.Named(runtime));

        var text = AsynclensOn(runtime, "ps", chains.PidText);
        Assert.True(text.ExitCode == 0, text.ToString());
        var lines = text.Stdout.Split('\n');
        Assert.Matches($@"^asynclens: 2029 pending tasks in 4 roots \(pid {chains.Pid}, [0-9T:-]+Z\)$", lines[0]);
        Assert.Matches(@"^ID +STATE +METHOD +PARKED AT +AWAITING +AWAITED BY +ROOT$", lines[2]);
        Assert.Equal(2, lines.Count(l => Regex.IsMatch(l, $@"^~\d+ +parked +Store\.FetchAsync\(int\) +Scenario\.cs:{s_at.Line("chains.fetch")} +TaskCompletionSource +~\d+ +no$")));
        Assert.Single(lines, l => Regex.IsMatch(l, @"^~\d+ +pending +Task\.WhenAll \(1000 pending\) +- +~\d+, ~\d+, ~\d+ \+997 more +~\d+ +no$"));
        Assert.Single(lines, l => Regex.IsMatch(l, $@"^~\d+ +parked +Program\.Main\(string\[\]\) +Program\.cs:{s_at.Line("chains.main-outside")} +TaskCompletionSource +- +yes$"));
        Assert.Single(lines, l => Regex.IsMatch(l, @"^~\d+ +running +Blocking\.HoldThreadAsync\(\) +- +- +~\d+ +no$"));

        var json = AsynclensOn(runtime, "ps", chains.PidText, "--format", "json");
        Assert.True(json.ExitCode == 0, json.ToString());
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.Equal(chains.Pid, doc.RootElement.GetProperty("pid").GetInt32());
        var tasks = doc.RootElement.GetProperty("tasks").EnumerateArray().ToList();
        Assert.Equal(2035, tasks.Count);
        var byId = tasks.ToDictionary(t => t.GetProperty("id").GetInt64());
        foreach (var task in tasks)
        {
            // Every link is there from both ends.
            foreach (var parent in task.GetProperty("awaitedBy").EnumerateArray())
                Assert.Contains(byId[parent.GetInt64()].GetProperty("awaiting").EnumerateArray(), a => a.GetProperty("id").GetInt64() == task.GetProperty("id").GetInt64());
        }
        var fetch = tasks.Where(t => t.GetProperty("method").GetString() == "Store.FetchAsync(int)").ToList();
        Assert.Equal(2, fetch.Count);
        Assert.All(fetch, f =>
        {
            Assert.Equal(s_at["chains.fetch"].File, f.GetProperty("parkedAt").GetProperty("file").GetString());
            Assert.Equal(s_at.Line("chains.fetch"), f.GetProperty("parkedAt").GetProperty("line").GetInt32());
            Assert.Equal("parked", f.GetProperty("state").GetString());
            Assert.Equal("Server.HandleAsync(int)", byId[f.GetProperty("awaitedBy")[0].GetInt64()].GetProperty("method").GetString());
        });
        Assert.Equal("pooled-async-method", tasks.Single(t => t.GetProperty("method").GetString() == "Pooled.WaitAsync()").GetProperty("kind").GetString());
        Assert.Equal("async-iterator", tasks.Single(t => t.GetProperty("method").GetString() == "Feeds.ReadAsync()").GetProperty("kind").GetString());

        var csv = AsynclensOn(runtime, "ps", chains.PidText, "--format", "csv");
        Assert.True(csv.ExitCode == 0, csv.ToString());
        var rows = csv.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("id,kind,state,method,file,line,awaitIndex,awaiting,awaitedBy,root,blockedThreadWaits", rows[0]);
        Assert.Equal(2036, rows.Length);
        Assert.Single(rows, r => Regex.IsMatch(r, $@"^-\d+,async-method,parked,Outer\.Inner\.LoadAsync<Guid>\(\),{Regex.Escape(s_at["chains.generic"].File)},{s_at.Line("chains.generic")},0,TaskCompletionSource,-\d+,false,false$"));
        // The two halves of the await cycle: each awaits the other (and so neither is a root); quoted, for the comma.
        Assert.Equal(2, rows.Count(r => Regex.IsMatch(r, $@"^-\d+,async-method,parked,""Cycle\.WaitForAsync\(Task, Func<Task>\)"",{Regex.Escape(s_at["chains.cycle"].File)},{s_at.Line("chains.cycle")},1,-\d+,-\d+,false,false$")));
    }

    [Theory]
    [InlineData("net10")]
    [InlineData("net11")]
    public void Threads_show_each_stack_and_the_async_method_a_blocked_thread_is_running(string runtime)
    {
        using var chains = new ParkedChains(TargetRuntime.Named(runtime));
        var result = AsynclensOn(runtime, "threads", chains.PidText);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches($@"^asynclens: \d+ managed threads, 1 running an async step \(pid {chains.Pid}, [0-9T:-]+Z\)\n", result.Stdout);
        Assert.Matches(
            $@"\nThread \d+ \(os \d+\): running a step of Blocking\.HoldThreadAsync\(\)\n"
            + s_monitorWait[runtime]
            + @"    ManualResetEventSlim\.Wait\(int, CancellationToken\)\n"
            + @"    ManualResetEventSlim\.Wait\(\)\n"
            + $@"    Blocking\.HoldThreadAsync\(\) at {Regex.Escape(At("chains.hold-thread"))}\n"
            + @"(    .+\n)+"
            + @"  awaited by:\n"
            + $@"    Blocking\.ServeAsync\(\) at {Regex.Escape(At("chains.hold-caller"))}\n",
            result.Stdout);
        // The main thread, blocked in the compiler's entry point waiting for async Main.
        Assert.Matches(@"\nThread 1 \(os \d+\)\n(    .+\n)*    Program\.<Main>\(string\[\]\)\n", result.Stdout);

        var json = AsynclensOn(runtime, "threads", chains.PidText, "--format", "json");
        Assert.True(json.ExitCode == 0, json.ToString());
        using var doc = JsonDocument.Parse(json.Stdout);
        var busy = doc.RootElement.GetProperty("threads").EnumerateArray().Single(t => t.GetProperty("asyncStep").ValueKind == JsonValueKind.Object);
        Assert.Equal("Blocking.HoldThreadAsync()", busy.GetProperty("asyncStep").GetProperty("method").GetString());
        Assert.Contains(busy.GetProperty("frames").EnumerateArray(), f =>
            f.GetProperty("method").GetString() == "Blocking.HoldThreadAsync()" && f.GetProperty("line").GetInt32() == s_at.Line("chains.hold-thread"));
        Assert.Equal(s_at.Line("chains.hold-caller"), busy.GetProperty("asyncStep").GetProperty("awaitedBy")[0].GetProperty("line").GetInt32());
    }

    [Theory]
    [InlineData("net10")]
    [InlineData("net11")]
    public void A_core_dump_reads_like_the_live_process_and_a_truncated_one_is_refused(string runtime)
    {
        using var dir = new TempDirectory("asynclens-dump-");
        var dump = dir.File("chains.core");
        using (var chains = new ParkedChains(TargetRuntime.Named(runtime)))
        {
            var written = AsynclensOn(runtime, "dump-core", chains.PidText, "-o", dump);
            Assert.True(written.ExitCode == 0, written.ToString());
            Assert.Matches($@"^asynclens: wrote {Regex.Escape(dump)} \(\d+ MB\)\n$", written.Stdout);
            var mini = dir.File("mini.core");
            Assert.Equal(0, AsynclensOn(runtime, "dump-core", chains.PidText, "-o", mini, "--type", "mini").ExitCode);
            var noHeap = AsynclensOn(runtime, "ps", "--dump", mini);
            Assert.Equal(2, noHeap.ExitCode);
            Assert.Equal($"asynclens: '{mini}' holds no managed heap to read tasks from (a mini dump?): "
                + "write one with 'asynclens dump-core PID -o FILE' (--type heap or full)\n", noHeap.Stderr);
        }

        var result = AsynclensOn(runtime, "pstree", "--dump", dump);
        Assert.True(result.ExitCode == 0, result.ToString());
        var (header, body) = Split(result.Stdout);
        Assert.Matches(@"^asynclens: 2029 pending tasks in 4 trees \(pid \d+, [0-9T:-]+Z\)$", header);
        Assert.Equal(ExpectedTree(), body);

        var truncated = dir.File("truncated.core");
        using (var source = File.OpenRead(dump))
        using (var target = File.Create(truncated))
        {
            var buffer = new byte[1024 * 1024];
            target.Write(buffer, 0, source.Read(buffer, 0, buffer.Length));
        }
        var refused = AsynclensOn(runtime, "ps", "--dump", truncated);
        Assert.Equal(2, refused.ExitCode);
        Assert.Equal("", refused.Stdout);
        Assert.Matches($@"^asynclens: .*{Regex.Escape(truncated)}.*\n$", refused.Stderr);
        Assert.DoesNotContain("   at ", refused.Stderr);
    }

    [Fact]
    public void Killing_asynclens_mid_read_leaves_the_process_running()
    {
        using var chains = new ParkedChains();
        // asynclens is frozen while it has every thread stopped ("t (tracing stop)"), then SIGKILLed.
        using var reader = FrozenReader.Start(chains, "ps", chains.PidText);
        Signals.Send("-KILL", reader.Process.Id);
        Assert.True(reader.Process.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Equal(137, reader.Process.ExitCode);
        // The kernel let it go: the process runs on (and, disposed, must finish normally).
        var state = "";
        for (var i = 0; i < 100 && !(state = chains.State()).StartsWith('S') && !state.StartsWith('R'); i++)
            Thread.Sleep(20);
        Assert.Matches("^[SR] ", state);
        Assert.Equal(0, chains.TracerPid());
    }

    [Fact]
    public void A_process_that_is_not_dotnet_gets_one_line_and_exit_code_2()
    {
        using var sleep = Process.Start("sleep", "30");
        try
        {
            var result = Asynclens("pstree", sleep.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(2, result.ExitCode);
            Assert.Equal($"asynclens: process {sleep.Id} (sleep) is not a .NET process (no .NET runtime is loaded in it)\n", result.Stderr);
            Assert.Equal("", result.Stdout);
            Assert.False(sleep.HasExited);
        }
        finally
        {
            sleep.Kill();
        }
    }
}
