using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.Inventory;

/// <summary>
/// The task inventory on tests/Targets/Chains, a program that parks known chains of async work (a server's
/// Task.WhenAll, 1000 requests at one await, an async iterator, a pooled ValueTask method, lambdas, local
/// functions, generics in nested classes, a recursion, a socket accept, a Task.Run, an await cycle), then
/// dumps them: the exact text of each shape, lines included. On .NET 10; <see cref="TaskDumpNet11Tests"/> on .NET 11.
/// </summary>
public partial class TaskDumpTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Chains"));

    // The gate most chains wait for: one task, awaited by eleven methods.
    private const string Gate = "awaiting TaskCompletionSource <- one task awaited by 11";

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";

    private static int Line(string tag) => s_at.Line(tag);

    // How a lambda is named: by its method and the first line of its body, "Scenario.cs:31".
    private static string Lambda(string tag) => $"{Path.GetFileName(s_at[tag].File)}:{s_at[tag].Line}";

    /// <summary>The runtime tests/Targets/Chains runs on.</summary>
    private protected virtual TargetRuntime Runtime => TargetRuntime.Net10;

    private ProcessResult RunChains(string mode)
    {
        var result = ChildProcess.Dotnet([Repo.Program("Chains"), mode], timed: false, runtime: Runtime);
        Assert.True(result.ExitCode == 0 && result.Stdout.EndsWith("done\n", StringComparison.Ordinal), result.ToString());
        return result;
    }

    /// <summary>The dump's first line (it has the pid and the time), and the rest.</summary>
    private static (string Header, string Body) Split(string dump)
    {
        var text = dump.Replace("\r\n", "\n", StringComparison.Ordinal);
        var end = text.IndexOf("\ndone\n", StringComparison.Ordinal);
        if (end >= 0)
            text = text[..end];
        var newline = text.IndexOf('\n', StringComparison.Ordinal);
        Assert.True(newline > 0, dump);
        return (text[..newline], text[(newline + 1)..].Trim('\n'));
    }

    [Fact]
    public void Tree_shows_roots_first_and_under_each_what_it_awaits_with_lines()
    {
        var result = RunChains("tree");
        var (header, body) = Split(result.Stdout);
        Assert.Matches(TreeHeader(), header);
        Assert.Equal(
            $$"""
            Cycle.WaitForAsync(Task, Func<Task>) at {{At("chains.cycle")}} <- in an await cycle: a deadlock
            └── Cycle.WaitForAsync(Task, Func<Task>) at {{At("chains.cycle")}}
                └── (back to Cycle.WaitForAsync(Task, Func<Task>): an await cycle)

            Program.Main(string[]) (running)

            {{ChainsTrees.Scenario(At, outside: false)}}
            """,
            body);
    }

    [Fact]
    public void Stacks_go_root_to_leaf_and_identical_ones_print_once_with_a_count()
    {
        var result = RunChains("stacks");
        var (header, body) = Split(result.Stdout);
        Assert.Matches(StacksHeader(), header);
        Assert.Equal(
            $$"""
            x1000
                Task.WhenAll (12 pending)
                Requests.FloodAsync(int) at {{At("chains.flood")}}
                Task.WhenAll (1000 pending)
                Requests.ProcessAsync(int) at {{At("chains.process")}}
                Requests.QueryAsync(int) at {{At("chains.query")}}
                awaiting Task.Delay

            x2
                Task.WhenAll (12 pending)
                Server.ServeAsync() at {{At("chains.serve")}}
                Task.WhenAll (3 pending)
                Server.HandleAsync(int) at {{At("chains.handle-fetch")}}
                Store.FetchAsync(int) at {{At("chains.fetch")}}
                {{Gate}}

            x1
                Cycle.WaitForAsync(Task, Func<Task>) at {{At("chains.cycle")}}
                Cycle.WaitForAsync(Task, Func<Task>) at {{At("chains.cycle")}}
                awaiting Cycle.WaitForAsync(Task, Func<Task>) again: an await cycle (a deadlock)

            x1
                Program.Main(string[]) (running)
                running

            x1
                Task.WhenAll (12 pending)
                Feeds.ConsumeAsync() at {{At("chains.consume")}}
                Feeds.ReadAsync() at {{At("chains.feed")}}
                {{Gate}}

            x1
                Task.WhenAll (12 pending)
                Network.AcceptAsync() at {{At("chains.accept")}}
                awaiting socket I/O

            x1
                Task.WhenAll (12 pending)
                Outer.Inner.LoadAsync<Guid>() at {{At("chains.generic")}}
                {{Gate}}

            x1
                Task.WhenAll (12 pending)
                Pooled.CallerAsync() at {{At("chains.pooled-caller")}}
                Pooled.WaitAsync() at {{At("chains.pooled")}}
                {{Gate}}

            x1
                Task.WhenAll (12 pending)
                Recursive.DescendAsync(int) at {{At("chains.recursion")}}
                ... the same frame 2 more times (recursion)
                Recursive.DescendAsync(int) at {{At("chains.recursion-bottom")}}
                {{Gate}}

            x1
                Task.WhenAll (12 pending)
                Server.ServeAsync() at {{At("chains.serve")}}
                Task.WhenAll (3 pending)
                Server.HandleAsync(int) at {{At("chains.handle-semaphore")}}
                awaiting SemaphoreSlim.WaitAsync

            x1
                Task.WhenAll (12 pending)
                Shapes.ConfiguredAsync() at {{At("chains.configured")}}
                {{Gate}}

            x1
                Task.WhenAll (12 pending)
                Shapes.LambdaAndLocalAsync() at {{At("chains.shapes")}}
                Task.WhenAll (2 pending)
                Shapes.LambdaAndLocalAsync lambda at {{Lambda("chains.lambda")}} at {{At("chains.lambda")}}
                {{Gate}}

            x1
                Task.WhenAll (12 pending)
                Shapes.LambdaAndLocalAsync() at {{At("chains.shapes")}}
                Task.WhenAll (2 pending)
                Shapes.LambdaAndLocalAsync()+LocalAsync(string) at {{At("chains.local")}}
                {{Gate}}

            x1
                Task.WhenAll (12 pending)
                Shapes.ValueTaskAsync() at {{At("chains.valuetask")}}
                {{Gate}}

            x1
                Task.WhenAll (12 pending)
                Task.Run
                Scenario.Start lambda at {{Lambda("chains.run-lambda.body")}} at {{At("chains.run-lambda")}}
                {{Gate}}

            x1
                Task.WhenAll (12 pending)
                Task.Run(Scenario.Start lambda at {{Lambda("chains.run-blocking")}}) at {{At("chains.run-blocking")}} (running)
                running
            """,
            body);
    }

    [Fact]
    public void Api_lists_every_pending_task_with_its_state_line_and_what_it_awaits()
    {
        var result = RunChains("api");
        Assert.Equal(
            $$"""
            1 x async-iterator | Feeds.ReadAsync() | parked | {{Line("chains.feed")}} | TaskCompletionSource | root=False | awaitedBy=1
            2 x async-method | Cycle.WaitForAsync(Task, Func<Task>) | parked | {{Line("chains.cycle")}} | Cycle.WaitForAsync(Task, Func<Task>) | root=False | awaitedBy=1
            1 x async-method | Feeds.ConsumeAsync() | parked | {{Line("chains.consume")}} | Feeds.ReadAsync() | root=False | awaitedBy=1
            1 x async-method | Network.AcceptAsync() | parked | {{Line("chains.accept")}} | socket I/O | root=False | awaitedBy=1
            1 x async-method | Outer.Inner.LoadAsync<Guid>() | parked | {{Line("chains.generic")}} | TaskCompletionSource | root=False | awaitedBy=1
            1 x async-method | Pooled.CallerAsync() | parked | {{Line("chains.pooled-caller")}} | Pooled.WaitAsync() | root=False | awaitedBy=1
            1 x async-method | Program.Main(string[]) | running |  |  | root=True | awaitedBy=0
            1 x async-method | Recursive.DescendAsync(int) | parked | {{Line("chains.recursion-bottom")}} | TaskCompletionSource | root=False | awaitedBy=1
            3 x async-method | Recursive.DescendAsync(int) | parked | {{Line("chains.recursion")}} | Recursive.DescendAsync(int) | root=False | awaitedBy=1
            1 x async-method | Requests.FloodAsync(int) | parked | {{Line("chains.flood")}} | Task.WhenAll (1000 pending) | root=False | awaitedBy=1
            1000 x async-method | Requests.ProcessAsync(int) | parked | {{Line("chains.process")}} | Requests.QueryAsync(int) | root=False | awaitedBy=1
            1000 x async-method | Requests.QueryAsync(int) | parked | {{Line("chains.query")}} | Task.Delay | root=False | awaitedBy=1
            1 x async-method | Scenario.Start lambda at {{Lambda("chains.run-lambda.body")}} | parked | {{Line("chains.run-lambda")}} | TaskCompletionSource | root=False | awaitedBy=1
            1 x async-method | Server.HandleAsync(int) | parked | {{Line("chains.handle-semaphore")}} | SemaphoreSlim.WaitAsync | root=False | awaitedBy=1
            2 x async-method | Server.HandleAsync(int) | parked | {{Line("chains.handle-fetch")}} | Store.FetchAsync(int) | root=False | awaitedBy=1
            1 x async-method | Server.ServeAsync() | parked | {{Line("chains.serve")}} | Task.WhenAll (3 pending) | root=False | awaitedBy=1
            1 x async-method | Shapes.ConfiguredAsync() | parked | {{Line("chains.configured")}} | TaskCompletionSource | root=False | awaitedBy=1
            1 x async-method | Shapes.LambdaAndLocalAsync lambda at {{Lambda("chains.lambda")}} | parked | {{Line("chains.lambda")}} | TaskCompletionSource | root=False | awaitedBy=1
            1 x async-method | Shapes.LambdaAndLocalAsync() | parked | {{Line("chains.shapes")}} | Task.WhenAll (2 pending) | root=False | awaitedBy=1
            1 x async-method | Shapes.LambdaAndLocalAsync()+LocalAsync(string) | parked | {{Line("chains.local")}} | TaskCompletionSource | root=False | awaitedBy=1
            1 x async-method | Shapes.ValueTaskAsync() | parked | {{Line("chains.valuetask")}} | TaskCompletionSource | root=False | awaitedBy=1
            2 x async-method | Store.FetchAsync(int) | parked | {{Line("chains.fetch")}} | TaskCompletionSource | root=False | awaitedBy=1
            1 x combinator | Task.Run | pending |  | Scenario.Start lambda at {{Lambda("chains.run-lambda.body")}} | root=False | awaitedBy=1
            1 x combinator | Task.WhenAll (1000 pending) | pending |  | Requests.ProcessAsync(int) | root=False | awaitedBy=1
            1 x combinator | Task.WhenAll (12 pending) | pending |  | Server.ServeAsync(), Requests.FloodAsync(int), Feeds.ConsumeAsync(), Pooled.CallerAsync(), Shapes.LambdaAndLocalAsync(), Outer.Inner.LoadAsync<Guid>(), Shapes.ConfiguredAsync(), Shapes.ValueTaskAsync(), Recursive.DescendAsync(int), Network.AcceptAsync(), Task.Run, Task.Run(Scenario.Start lambda at {{Lambda("chains.run-blocking")}}) | root=True | awaitedBy=0
            1 x combinator | Task.WhenAll (2 pending) | pending |  | Shapes.LambdaAndLocalAsync lambda at {{Lambda("chains.lambda")}}, Shapes.LambdaAndLocalAsync()+LocalAsync(string) | root=False | awaitedBy=1
            1 x combinator | Task.WhenAll (3 pending) | pending |  | Server.HandleAsync(int) | root=False | awaitedBy=1
            1 x delegate-task | Task.Run(Scenario.Start lambda at {{Lambda("chains.run-blocking")}}) | running |  |  | root=False | awaitedBy=1
            1 x pooled-async-method | Pooled.WaitAsync() | parked | {{Line("chains.pooled")}} | TaskCompletionSource | root=False | awaitedBy=1
            done

            """,
            result.Stdout.Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    [Fact]
    public void Json_links_every_task_both_ways_and_has_the_coalesced_stacks()
    {
        var result = RunChains("json");
        using var doc = JsonDocument.Parse(result.Stdout[..result.Stdout.IndexOf("\ndone\n", StringComparison.Ordinal)]);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("pid").GetInt32() > 0);
        Assert.True(DateTime.TryParse(root.GetProperty("timestamp").GetString(), out _));
        var tasks = root.GetProperty("tasks").EnumerateArray().ToList();
        Assert.Equal(2032, tasks.Count);
        Assert.Equal(5, tasks.Count(t => t.GetProperty("kind").GetString() == "combinator")); // not counted as tasks in the text header
        var byId = tasks.ToDictionary(t => t.GetProperty("id").GetInt64());

        foreach (var t in tasks)
        {
            var id = t.GetProperty("id").GetInt64();
            var awaitedBy = t.GetProperty("awaitedBy").EnumerateArray().Select(e => e.GetInt64()).ToList();
            Assert.Equal(awaitedBy.Count == 0, t.GetProperty("root").GetBoolean());
            foreach (var parent in awaitedBy)
                Assert.Contains(id, byId[parent].GetProperty("awaiting").EnumerateArray().Select(a => a.GetProperty("id").GetInt64()));
            foreach (var awaited in t.GetProperty("awaiting").EnumerateArray())
            {
                if (awaited.GetProperty("kind").GetString() != "awaited")
                    Assert.Contains(id, byId[awaited.GetProperty("id").GetInt64()].GetProperty("awaitedBy").EnumerateArray().Select(e => e.GetInt64()));
            }
            // Without debug mode nothing recorded creation.
            Assert.Equal(JsonValueKind.Null, t.GetProperty("createdAt").ValueKind);
            Assert.Equal(JsonValueKind.Null, t.GetProperty("ageSeconds").ValueKind);
        }

        var pooled = Assert.Single(tasks, t => t.GetProperty("method").GetString() == "Pooled.WaitAsync()");
        Assert.True(pooled.GetProperty("id").GetInt64() < 0, "a pooled box is not a task: its id is negative");
        Assert.Equal("pooled-async-method", pooled.GetProperty("kind").GetString());
        Assert.Equal("parked", pooled.GetProperty("state").GetString());
        Assert.Equal(0, pooled.GetProperty("awaitIndex").GetInt32());
        Assert.Equal(s_at["chains.pooled"], Location(pooled.GetProperty("parkedAt")));
        var caller = byId[Assert.Single(pooled.GetProperty("awaitedBy").EnumerateArray().ToList()).GetInt64()];
        Assert.Equal("Pooled.CallerAsync()", caller.GetProperty("method").GetString());
        Assert.Equal(s_at["chains.pooled-caller"], Location(caller.GetProperty("parkedAt")));

        var iterator = Assert.Single(tasks, t => t.GetProperty("method").GetString() == "Feeds.ReadAsync()");
        Assert.Equal("async-iterator", iterator.GetProperty("kind").GetString());
        Assert.Equal(s_at["chains.feed"], Location(iterator.GetProperty("parkedAt")));

        var queries = tasks.Where(t => t.GetProperty("method").GetString() == "Requests.QueryAsync(int)").ToList();
        Assert.Equal(1000, queries.Count);
        Assert.All(queries, q =>
        {
            Assert.Equal(s_at["chains.query"], Location(q.GetProperty("parkedAt")));
            var awaited = Assert.Single(q.GetProperty("awaiting").EnumerateArray().ToList());
            Assert.Equal("awaited", awaited.GetProperty("kind").GetString());
            Assert.Equal("Task.Delay", awaited.GetProperty("description").GetString());
        });

        var flood = root.GetProperty("stacks")[0];
        Assert.Equal(1000, flood.GetProperty("count").GetInt32());
        Assert.Equal(100, flood.GetProperty("taskIds").GetArrayLength());
        Assert.All(flood.GetProperty("taskIds").EnumerateArray(), id => Assert.Equal("Requests.QueryAsync(int)", byId[id.GetInt64()].GetProperty("method").GetString()));
        Assert.Equal(
            [
                "Task.WhenAll (12 pending) at -",
                $"Requests.FloodAsync(int) at {At("chains.flood")}",
                "Task.WhenAll (1000 pending) at -",
                $"Requests.ProcessAsync(int) at {At("chains.process")}",
                $"Requests.QueryAsync(int) at {At("chains.query")}",
            ],
            flood.GetProperty("frames").EnumerateArray().Select(f =>
                $"{f.GetProperty("method").GetString()} at {(f.GetProperty("file").ValueKind == JsonValueKind.Null ? "-" : $"{f.GetProperty("file").GetString()}:{f.GetProperty("line").GetInt32()}")}"));
        Assert.Equal("awaiting Task.Delay", flood.GetProperty("awaiting").GetString());
    }

    [Fact]
    public void Sigusr1_with_the_startup_hook_alone_writes_the_stacks_and_the_app_goes_on()
    {
        var result = ChildProcess.DotnetInteractive(
            [Repo.Program("Chains"), "signal"],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_TASKS"] = "1" },
            Signals.Sigusr1WhenParked(),
            Runtime);

        Assert.True(result.ExitCode == 0 && result.Stdout.EndsWith("done\n", StringComparison.Ordinal), result.ToString());
        var pid = int.Parse(result.Stdout.Split('\n')[0]["parked ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        var (header, body) = Split(result.Stderr);
        Assert.Matches($@"^asynclens: 2027 pending tasks in 16 async stacks \(pid {pid}, [0-9T:-]+Z\)$", header);
        Assert.StartsWith(
            $"""
            x1000
                Task.WhenAll (12 pending)
                Requests.FloodAsync(int) at {At("chains.flood")}
                Task.WhenAll (1000 pending)
                Requests.ProcessAsync(int) at {At("chains.process")}
                Requests.QueryAsync(int) at {At("chains.query")}
                awaiting Task.Delay

            x2

            """,
            body);
        Assert.Contains(
            $"""

            x1
                Program.Main(string[]) at {At("chains.main-signal")}
                awaiting Task.Delay

            """,
            body);
        Assert.DoesNotContain("asynclens: blocking-wait", result.Stderr); // the inventory alone is not debug mode
    }

    [Fact]
    public void Sigusr1_in_debug_mode_writes_the_chosen_format_with_creation_sites_and_ages()
    {
        var output = Path.Combine(Path.GetTempPath(), $"asynclens-chains-{Guid.NewGuid():N}.jsonl");
        try
        {
            var result = ChildProcess.DotnetInteractive(
                [Repo.Program("Chains"), "signal"],
                new Dictionary<string, string?>
                {
                    ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
                    ["ASYNCLENS_DEBUG"] = "1",
                    ["ASYNCLENS_FORMAT"] = "json",
                    ["ASYNCLENS_DUMP_FORMAT"] = "json",
                    ["ASYNCLENS_OUTPUT"] = output,
                },
                Signals.Sigusr1WhenParked(),
            Runtime);
            Assert.True(result.ExitCode == 0 && result.Stdout.EndsWith("done\n", StringComparison.Ordinal), result.ToString());

            // The output has debug mode's reports (one JSON object a line) and the dump (one line too).
            var dumpLine = Assert.Single(File.ReadAllLines(output), l => l.StartsWith("{\"pid\":", StringComparison.Ordinal));
            using var doc = JsonDocument.Parse(dumpLine);
            var tasks = doc.RootElement.GetProperty("tasks").EnumerateArray().ToList();

            var fetches = tasks.Where(t => t.GetProperty("method").GetString() == "Store.FetchAsync(int)").ToList();
            Assert.Equal(2, fetches.Count);
            Assert.All(fetches, f =>
            {
                Assert.Equal(s_at["chains.handle-fetch"], Location(f.GetProperty("createdAt")));
                Assert.Equal("Server.HandleAsync(int)", f.GetProperty("createdAt").GetProperty("method").GetString());
                Assert.InRange(f.GetProperty("ageSeconds").GetDouble(), 0.2, 60);
            });

            // A recursion: each call made by the one above it; the outermost by Scenario.Start.
            var calls = tasks.Where(t => t.GetProperty("method").GetString() == "Recursive.DescendAsync(int)")
                .Select(t => (Created: Location(t.GetProperty("createdAt")), Parked: Location(t.GetProperty("parkedAt"))))
                .OrderBy(c => c.Created.Line).ThenBy(c => c.Parked.Line).ToList();
            Assert.Equal(
                [
                    (s_at["chains.start"], s_at["chains.recursion"]),
                    (s_at["chains.recursion"], s_at["chains.recursion-bottom"]),
                    (s_at["chains.recursion"], s_at["chains.recursion"]),
                    (s_at["chains.recursion"], s_at["chains.recursion"]),
                ],
                calls);
        }
        finally
        {
            File.Delete(output);
        }
    }

    private static (string File, int Line) Location(JsonElement e) =>
        (e.GetProperty("file").GetString()!, e.GetProperty("line").GetInt32());

    [GeneratedRegex(@"^asynclens: 2027 pending tasks in 3 trees \(pid \d+, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$")]
    private static partial Regex TreeHeader();

    [GeneratedRegex(@"^asynclens: 2027 pending tasks in 16 async stacks \(pid \d+, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$")]
    private static partial Regex StacksHeader();
}

/// <summary>The same dumps with tests/Targets/Chains and the startup hook on .NET 11 (the suite's second leg).</summary>
public sealed class TaskDumpNet11Tests : TaskDumpTests
{
    private protected override TargetRuntime Runtime => TargetRuntime.Net11;
}
