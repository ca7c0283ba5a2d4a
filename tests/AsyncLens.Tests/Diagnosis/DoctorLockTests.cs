using AsyncLens.Diagnosis;
using Xunit;
using static AsyncLens.Tests.Diagnosis.SnapshotBuilder;

namespace AsyncLens.Tests.Diagnosis;

/// <summary>
/// The doctor's judgement of threads blocked on locks, on snapshots built by hand: a starving pool's workers named by
/// the lock and its holder, cycles of locks, and the waits named without a verdict.
/// </summary>
public sealed class DoctorLockTests
{
    private const string F = SnapshotBuilder.File;

    [Fact]
    public void A_pool_starved_by_a_lock_names_it_its_holder_and_where_the_holder_runs_grouped_by_lock()
    {
        ThreadFrameText[] Entering(string method, int line) =>
            [new("Monitor.Enter_Slowpath(object)", null, "System.Threading.Monitor.Enter_Slowpath"), User(method, line), Dispatch, PoolWorker];
        ThreadFrameText[] Settling(string method, int line) =>
            [new("Monitor.Wait(object, int)", null, "System.Threading.Monitor.Wait"), new("SemaphoreSlim.Wait()", null, "System.Threading.SemaphoreSlim.Wait"), User(method, line), Dispatch, PoolWorker];
        var released = Line(24);
        var state = new SnapshotBuilder().Build(queued: 300) with
        {
            Threads =
            [
                new ObservedThread(4, 104, false, [new("Thread.Sleep(int)", null, "System.Threading.Thread.Sleep"), User("Ledger.Close()", 30), new("Thread.StartCallback()", null, "System.Threading.Thread.StartCallback")]),
                new ObservedThread(5, 105, false, Entering("Ledger.Post(int)", 58), Lock: new LockWait("Object", 4)),
                new ObservedThread(6, 106, false, Entering("Ledger.Post(int)", 58), Lock: new LockWait("Object", 4)),
                new ObservedThread(7, 107, false, Entering("Ledger.Post(int)", 58), Lock: new LockWait("Object", 4)),
                new ObservedThread(8, 108, false, Settling("Ledger.Settle(int)", 64), Lock: new LockWait("SemaphoreSlim", 4, "Ledger.s_gate", LockHolding.Code, released, "Ledger.Close()")),
                new ObservedThread(9, 109, false, IdleWorker),
            ],
        };

        var verdict = Assert.Single(Doctor.Diagnose(state).Verdicts);

        Assert.Equal("pool-starvation", verdict.Kind);
        Assert.Equal($"4 of 5 pool threads blocked; 3 entering a lock (Object) in `Ledger.Post(int)` at {F}:58, held by thread 4 in `Ledger.Close()` at {F}:30; 300 work items queued", verdict.Summary);
        Assert.Equal([new VerdictSite("blocked", "Ledger.Post(int)", Line(58)), new VerdictSite("holder", "Ledger.Close()", Line(30))], verdict.Sites);
        Assert.Equal($"  1 thread (8) waiting for SemaphoreSlim `Ledger.s_gate` in `Ledger.Settle(int)` at {F}:64, held by thread 4 in `Ledger.Close()` at {F}:30",
            Assert.Single(verdict.Evidence, e => e.StartsWith("  1 thread (8)", StringComparison.Ordinal)));
        Assert.Equal(2, verdict.Evidence.Count(e => e == "  the holder, thread 4 (os 104):"));
    }

    [Fact]
    public void Threads_each_waiting_for_a_lock_the_other_holds_are_a_deadlock_named_link_by_link()
    {
        ThreadFrameText[] Entering(string method, int line) =>
            [new("Monitor.ReliableEnter(object, ref bool)", null, "System.Threading.Monitor.ReliableEnter"), User(method, line), new("Thread.StartCallback()", null, "System.Threading.Thread.StartCallback")];
        var b = new SnapshotBuilder();
        var state = b.Build() with
        {
            Threads =
            [
                new ObservedThread(1, 101, true, [new("Program.<Main>(string[])", null, "Program.<Main>", App: true)]),
                new ObservedThread(5, 105, false, Entering("Ledger.Transfer()", 21), Lock: new LockWait("List", 6)),
                new ObservedThread(6, 106, false, Entering("Ledger.Audit()", 30), Lock: new LockWait("Object", 5)),
                new ObservedThread(7, 107, false, Entering("Report.Print()", 40), Lock: new LockWait("Object", 5)), // waits on the cycle, not in it
            ],
        };

        var verdict = Assert.Single(Doctor.Diagnose(state).Verdicts, v => v.Kind == "deadlock");

        Assert.Equal($"2 threads in a cycle of locks: thread 5, blocked entering a lock (List) in `Ledger.Transfer()` at {F}:21, held by thread 6; "
            + $"thread 6, blocked entering a lock (Object) in `Ledger.Audit()` at {F}:30, held by thread 5", verdict.Summary);
        Assert.Equal([5, 6], verdict.Threads);
    }

    [Fact]
    public void A_semaphore_held_by_a_thread_from_its_code_and_a_monitor_are_a_deadlock_and_the_other_waits_are_named_without_a_verdict()
    {
        ThreadFrameText[] Waiting(string method, int line) =>
            [new("Monitor.Wait(object, int)", null, "System.Threading.Monitor.Wait"), User(method, line), new("Thread.StartCallback()", null, "System.Threading.Thread.StartCallback")];
        var released = new SourceLine(F, 33);
        var b = new SnapshotBuilder();
        var state = b.Build() with
        {
            Threads =
            [
                new ObservedThread(1, 101, true, Waiting("Program.<Main>(string[])", 5), Lock: new LockWait("ManualResetEventSlim", 0, "Program.s_stop", LockHolding.Event)),
                new ObservedThread(5, 105, false, Waiting("Shelf.Count()", 25), Lock: new LockWait("Object", 6)),
                new ObservedThread(6, 106, false, Waiting("Shelf.Restock()", 39), Lock: new LockWait("SemaphoreSlim", 5, "Shelf.s_gate", LockHolding.Code, released, "Shelf.Count()")),
                new ObservedThread(7, 107, false, Waiting("Report.Print()", 40), Lock: new LockWait("Object", 5)), // behind the cycle
                new ObservedThread(8, 108, false, Waiting("Drain.Run()", 50), Lock: new LockWait("ManualResetEventSlim", 0, "Drain.s_done", LockHolding.Event)),
                new ObservedThread(9, 109, false, Waiting("Cache.Get()", 60), Lock: new LockWait("Object", 10)), // its holder runs: a passing contention
                new ObservedThread(10, 110, false, [User("Cache.Fill()", 70)]),
                new ObservedThread(11, 111, false, Waiting("Batch.Settle()", 80), Lock: new LockWait("SemaphoreSlim", 0, "Batch.s_gate", LockHolding.Code)),
            ],
        };

        var diagnosis = Doctor.Diagnose(state);

        var verdict = Assert.Single(diagnosis.Verdicts);
        Assert.Equal($"2 threads in a cycle of locks: thread 5, blocked entering a lock (Object) in `Shelf.Count()` at {F}:25, held by thread 6; "
            + $"thread 6, blocked waiting for SemaphoreSlim `Shelf.s_gate` in `Shelf.Restock()` at {F}:39, held by thread 5", verdict.Summary);
        Assert.Equal(new VerdictSite("released", "Shelf.Count()", released), verdict.Sites[^1]);
        Assert.Equal(
        [
            $"thread 7 blocked entering a lock (Object) in `Report.Print()` at {F}:40; held by thread 5, which is blocked entering a lock (Object)",
            $"thread 8 blocked waiting on ManualResetEventSlim `Drain.s_done` in `Drain.Run()` at {F}:50; an event: who would set it is not known",
            $"thread 11 blocked waiting for SemaphoreSlim `Batch.s_gate` in `Batch.Settle()` at {F}:80; no thread runs inside a try whose finally releases it: the holder cannot be named "
                + "(code that took it and returned without releasing it, or that releases it elsewhere)",
        ], diagnosis.Waits!.Select(w => w.Text));
    }
}
