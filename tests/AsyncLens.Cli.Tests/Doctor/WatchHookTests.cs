using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>
/// <c>ASYNCLENS_WATCH=1</c> with the startup hook in tests/Targets/Starvation: the watchdog inside sees the pool
/// starve and names where the blocked threads wait, from their own stacks, or the lock they wait for and its holder,
/// from the runtime's events; under the same load awaited it says nothing.
/// </summary>
public sealed class WatchHookTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Starvation"));

    private static string At(string tag) => $"{s_at[tag].File}:{s_at.Line(tag)}";

    // More groups after the first, each "N <sentence>".
    private const string OtherGroups = @"(?:; \d+ [^;]+)*";

    // `pool` names the waits that begin while it listens: the pool adds a worker every second or so while starved, but a
    // loaded machine may add none in those 2 s, so ask again.
    private static ProcessResult Pool(HookedProgram target)
    {
        ProcessResult answer;
        var asked = 0;
        do
            answer = ChildProcess.Dotnet([Repo.Cli, "console", target.PidText, "pool"], timed: false);
        while (++asked < 5 && answer.ExitCode == 0 && !answer.Stdout.Contains("(seen begin their wait in the 2 s listened)", StringComparison.Ordinal));
        return answer;
    }

    private static string NoPlace(HookedProgram target) =>
        $"where a thread waits to enter a lock or in Monitor.Wait is not known from inside (the runtime's events of those waits carry no stack): asynclens doctor {target.PidText} reads every thread's stack from outside";

    [Fact]
    public void A_pool_starvation_is_an_incident_naming_where_the_threads_block()
    {
        using var target = new HookedProgram("starve");
        var go = target.Go();
        Assert.True(target.WaitForLine("asynclens watch: incident 1: ", TimeSpan.FromSeconds(30)), "no incident was written:\n" + target.Stderr);
        var lines = target.Stderr.Split('\n').Where(l => l.StartsWith("asynclens watch: ", StringComparison.Ordinal)).ToList();

        var began = Regex.Match(lines[0], @"^asynclens watch: incident 1 began (\S+): queue-stalled: (a work item queued to the thread pool \d+\.\d s ago has not run|[\d,]+ work items queued to the thread pool and none completed in a second)");
        Assert.True(began.Success, target.Stderr);
        // The largest group; a worker preempted between its TaskWaitBegin and its Monitor.Wait as the listening began is
        // a Monitor.Wait of its own (a loaded machine), and the line after says where such waits are read.
        Assert.Matches(@"^asynclens watch: incident 1: pool-starvation: (\d+) of \d+ pool threads blocked(; \d+)? in `Orders\.Total\(int\)` at "
            + Regex.Escape($"{At("starve.result")} waiting (.Result) for a task") + OtherGroups + @"; [\d,]+ work items queued$", lines[1]);
        Assert.All(lines.Skip(2), line => Assert.Equal($"asynclens watch: incident 1: {NoPlace(target)}", line));
        var beganAt = DateTimeOffset.Parse(began.Groups[1].Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        Assert.True(beganAt - go <= TimeSpan.FromSeconds(5), $"the incident began {(beganAt - go).TotalSeconds:0.0} s after the load did");
    }

    /// <summary>
    /// Starvation <c>lock</c> and <c>semaphore</c> (pool workers blocked entering a monitor, or in <c>SemaphoreSlim.Wait()</c>,
    /// that a thread holds while it sleeps), Debug and Release builds, all four at once, with the watchdog and the
    /// console: the watchdog's incident, the console's <c>pool</c> and the doctor from outside, on the same processes.
    /// From inside, the runtime's events name the monitor's holder (its OS thread: the one the doctor names) and not
    /// where the waiters wait; from outside the doctor names both, and the semaphore's holder read from its code.
    /// </summary>
    [Fact]
    public async Task A_pool_starved_by_a_lock_or_a_semaphore_is_named_from_inside_and_from_outside_alike()
    {
        using var debugBook = new HookedProgram("lock", "Debug", console: true);
        using var debugGate = new HookedProgram("semaphore", "Debug", console: true);
        using var releaseBook = new HookedProgram("lock", "Release", console: true);
        using var releaseGate = new HookedProgram("semaphore", "Release", console: true);
        var pairs = new[] { (Book: debugBook, Gate: debugGate), (Book: releaseBook, Gate: releaseGate) };
        var all = pairs.SelectMany(p => new[] { p.Book, p.Gate }).ToList();
        all.ForEach(p => p.Go());
        foreach (var target in all)
            Assert.True(target.WaitForLine("asynclens watch: incident 1: where", TimeSpan.FromSeconds(30)), "no incident was written:\n" + target.Stderr);
        var reads = Task.WhenAll(all.Select(p => Task.Run(() => DoctorRun.Run(p.Pid))));
        var pools = Task.WhenAll(all.Select(p => Task.Run(() => Pool(p))));
        var outside = (await reads).ToList();
        var pool = (await pools).ToList();

        foreach (var (book, gate) in pairs)
        {
            // From outside: where the workers wait, the lock, its holder and where the holder runs.
            var read = outside[all.IndexOf(book)];
            Assert.True(read.ExitCode == 1, read.ToString());
            var verdict = Regex.Match(DoctorRun.Verdicts(read)[0], @"^pool-starvation: \d+ of \d+ pool threads blocked(?:; \d+)? entering a lock \(Object\) in `Ledger\.Post\(int\)` at "
                + Regex.Escape(At("ledger.post")) + @", held by thread (\d+) in `Ledger\.Close\(bool\)` at " + Regex.Escape(At("ledger.close.book")) + @"; [\d,]+ work items queued$");
            Assert.True(verdict.Success, read.Stdout);
            var holder = Regex.Match(read.Stdout, $@"\n  the holder, thread {verdict.Groups[1].Value} \(os (\d+)\):\n").Groups[1].Value;
            Assert.NotEqual("", holder);
            var semaphore = outside[all.IndexOf(gate)];
            Assert.True(Regex.IsMatch(DoctorRun.Verdicts(semaphore)[0], @"^pool-starvation: \d+ of \d+ pool threads blocked(?:; \d+)? waiting for SemaphoreSlim `Ledger\.s_gate` in `Ledger\.Settle\(int\)` at "
                + Regex.Escape(At("ledger.settle")) + @", held by thread \d+ in `Ledger\.Close\(bool\)` at " + Regex.Escape(At("ledger.close.gate")) + @"; [\d,]+ work items queued$"), semaphore.Stdout);

            // From inside (the watchdog, then the console's pool, the same words): the monitor's holder is the thread the doctor names.
            var heldBy = $"entering a lock, held by the thread 'month-end close' (os {holder})";
            var monitorWait = "waiting in Monitor.Wait (what SemaphoreSlim.Wait() and ManualResetEventSlim.Wait() end in), a wait the runtime records no holder of";
            foreach (var (target, blocked) in new[] { (book, heldBy), (gate, monitorWait) })
            {
                var lines = target.Stderr.Split('\n').Where(l => l.StartsWith("asynclens watch: ", StringComparison.Ordinal)).ToList();
                Assert.True(lines.Count == 3, target.Stderr);
                // The lock's group first (a worker preempted between two events as the listening began reads as another wait).
                Assert.Matches(@"^asynclens watch: incident 1 began \S+: queue-stalled: ", lines[0]);
                Assert.True(Regex.IsMatch(lines[1], @"^asynclens watch: incident 1: pool-starvation: \d+ of \d+ pool threads blocked(?:; \d+)? " + Regex.Escape(blocked) + OtherGroups + @"; [\d,]+ work items queued$"), target.Stderr);
                Assert.Equal($"asynclens watch: incident 1: {NoPlace(target)}", lines[2]);

                var answer = pool[all.IndexOf(target)];
                Assert.True(answer.ExitCode == 0, answer.ToString());
                var text = answer.Stdout.TrimEnd('\n').Split('\n');
                Assert.True(Regex.IsMatch(text[5], @"^pool-starvation: \d+ of \d+ pool threads blocked(?:; \d+)? " + Regex.Escape(blocked) + OtherGroups + @"; [\d,]+ work items queued$"), answer.Stdout);
                Assert.Equal(["", "busy workers, by what they do (most first):"], text[6..8]);
                Assert.True(Regex.IsMatch(text[8], @"^  \d+ threads? \(os \d+(, \d+)*\) " + Regex.Escape(blocked + " (seen begin their wait in the 2 s listened)") + "$"), answer.Stdout);
                Assert.Equal("  " + NoPlace(target), text[^1]);
            }
        }
    }

    [Fact]
    public void The_same_load_awaited_is_no_incident()
    {
        using var target = new HookedProgram("healthy");
        target.Go();
        Thread.Sleep(TimeSpan.FromSeconds(5)); // the load runs: hundreds of orders a second, nothing blocked

        Assert.DoesNotContain("asynclens", target.Stderr, StringComparison.Ordinal);
        Assert.False(target.Exited, target.Stderr);
    }

    /// <summary>The target with the startup hook and ASYNCLENS_WATCH=1; its standard error read as it comes.</summary>
    private sealed class HookedProgram : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _stdout = new();
        private readonly StringBuilder _stderr = new();

        public HookedProgram(string mode, string configuration = "Debug", bool console = false)
        {
            var start = TargetRuntime.Net10.StartInfo();
            start.RedirectStandardInput = true;
            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            start.ArgumentList.Add(Repo.Program("Starvation", configuration));
            start.ArgumentList.Add(mode);
            start.Environment["DOTNET_STARTUP_HOOKS"] = Repo.Engine;
            start.Environment["ASYNCLENS_WATCH"] = "1";
            foreach (var name in new[] { "ASYNCLENS_DEBUG", "ASYNCLENS_PROFILE", "ASYNCLENS_WATCH_OUTPUT", "ASYNCLENS_CONSOLE" })
                start.Environment.Remove(name);
            if (console)
                start.Environment["ASYNCLENS_CONSOLE"] = "1";
            _process = Process.Start(start)!;
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _ = Task.Run(async () =>
            {
                await ChildProcess.ReadLinesAsync(_process.StandardOutput, _stdout, line =>
                {
                    if (line.StartsWith("ready ", StringComparison.Ordinal))
                        ready.TrySetResult();
                });
                ready.TrySetException(new InvalidOperationException("Starvation ended before it was ready:\n" + _stdout + _stderr));
            });
            _ = Task.Run(() => ChildProcess.ReadLinesAsync(_process.StandardError, _stderr, _ => { }));
            Assert.True(ready.Task.Wait(TimeSpan.FromSeconds(60)), "Starvation did not start in 60 s");
        }

        public string Stderr
        {
            get
            {
                lock (_stderr)
                    return _stderr.ToString();
            }
        }

        public bool Exited => _process.HasExited;

        public int Pid => _process.Id;

        public string PidText => Pid.ToString(CultureInfo.InvariantCulture);

        public DateTimeOffset Go()
        {
            var at = DateTimeOffset.UtcNow;
            _process.StandardInput.WriteLine("go");
            _process.StandardInput.Flush();
            return at;
        }

        public bool WaitForLine(string start, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (!Stderr.Split('\n').Any(l => l.StartsWith(start, StringComparison.Ordinal)))
            {
                if (DateTime.UtcNow > deadline || _process.HasExited)
                    return false;
                Thread.Sleep(100);
            }
            return true;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            ChildProcess.WaitForOutput(_process);
            _process.Dispose();
        }
    }
}
