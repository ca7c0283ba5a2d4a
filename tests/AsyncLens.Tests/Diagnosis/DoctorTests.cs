using AsyncLens.Diagnosis;
using Xunit;
using static AsyncLens.Tests.Diagnosis.SnapshotBuilder;

namespace AsyncLens.Tests.Diagnosis;

/// <summary>
/// The doctor's judgement on snapshots built by hand (what the outside reader fills in): each verdict, its exact
/// sentence, and the cases that must stay healthy. The reading itself is tested on real processes (AsyncLens.Cli.Tests).
/// </summary>
public sealed class DoctorTests
{
    private const string F = SnapshotBuilder.File;

    // Pool workers blocked in GetTotal() at line 42 on .Result of ChargeAsync(), parked at line 17 on a TCS.
    private static SnapshotBuilder Blocked(int blocked, int idle)
    {
        var b = new SnapshotBuilder();
        for (var i = 0; i < blocked; i++)
        {
            var charge = b.Method("PaymentClient.ChargeAsync()", 17);
            b.Awaits(charge, b.Awaited("TaskCompletionSource"));
            b.Thread(10 + i, [.. ResultWait, User("OrderService.GetTotal()", 42), Dispatch, PoolWorker], waitsFor: charge);
        }
        for (var i = 0; i < idle; i++)
            b.Thread(100 + i, IdleWorker);
        return b;
    }

    [Fact]
    public void Most_pool_threads_blocked_with_work_queued_is_pool_starvation_grouped_by_where_they_block()
    {
        var diagnosis = Doctor.Diagnose(Blocked(blocked: 4, idle: 1).Build(queued: 1200));

        var verdict = Assert.Single(diagnosis.Verdicts);
        Assert.Equal("pool-starvation", verdict.Kind);
        Assert.Equal($"4 of 5 pool threads blocked in `OrderService.GetTotal()` at {F}:42 waiting (.Result) for `PaymentClient.ChargeAsync()`, parked at {F}:17 on TaskCompletionSource; 1,200 work items queued", verdict.Summary);
        Assert.Equal([new VerdictSite("blocked", "OrderService.GetTotal()", Line(42)), new VerdictSite("waits-for", "PaymentClient.ChargeAsync()", Line(17))], verdict.Sites);
        Assert.Equal([10, 11, 12, 13], verdict.Threads);
        Assert.False(diagnosis.IsHealthy);
    }

    [Fact]
    public void Blocked_threads_without_queued_work_or_with_most_of_the_pool_free_are_sync_over_async()
    {
        foreach (var state in new[] { Blocked(blocked: 4, idle: 1).Build(queued: 0), Blocked(blocked: 2, idle: 6).Build(queued: 50) })
        {
            var verdict = Assert.Single(Doctor.Diagnose(state).Verdicts);
            Assert.Equal("sync-over-async", verdict.Kind);
            Assert.Matches(@"^\d threads blocked in `OrderService.GetTotal\(\)` at .*:42 waiting \(\.Result\) for `PaymentClient.ChargeAsync\(\)`, parked at .*:17 on TaskCompletionSource \(the thread pool is not starved yet\)$", verdict.Summary);
        }
    }

    [Fact]
    public void A_thread_of_its_own_blocked_on_a_task_is_sync_over_async_with_no_word_of_starving_the_pool()
    {
        // Hangfire runs jobs on worker threads of its own: a job's .Wait() blocks one of them, not the pool's.
        var b = new SnapshotBuilder();
        var forever = b.Method("Jobs.WaitForeverAsync()", 44);
        b.Awaits(forever, b.Awaited("TaskCompletionSource"));
        b.Thread(10, [.. ResultWait, User("Jobs.StuckSync()", 42)], waitsFor: forever);
        b.Thread(6, IdleWorker);

        var verdict = Assert.Single(Doctor.Diagnose(b.Build(queued: 0)).Verdicts);
        Assert.Equal("sync-over-async", verdict.Kind);
        Assert.Equal($"thread 10 blocked in `Jobs.StuckSync()` at {F}:42 waiting (.Result) for `Jobs.WaitForeverAsync()`, parked at {F}:44 on TaskCompletionSource (a thread of its own, not the thread pool's)", verdict.Summary);
    }

    [Fact]
    public void The_main_thread_waiting_for_the_app_and_idle_workers_are_healthy()
    {
        var b = new SnapshotBuilder();
        var main = b.Method("Program.Main(string[])", 55);
        b.Awaits(main, b.Awaited("Task.Delay"));
        b.Thread(1, [.. ResultWait, User("Program.<Main>$(string[])", 58)], waitsFor: main, main: true);
        b.Thread(6, IdleWorker).Thread(7, IdleWorker);

        var diagnosis = Doctor.Diagnose(b.Build(queued: 0));

        var verdict = Assert.Single(diagnosis.Verdicts);
        Assert.Equal("healthy", verdict.Kind);
        Assert.Equal($"nothing stuck: 3 threads (2 in the thread pool, 2 idle, 0 blocked), 1 pending task, 0 work items queued; the main thread waits in `Program.<Main>$(string[])` at {F}:58, for the app to end", verdict.Summary);
        Assert.True(diagnosis.IsHealthy);
    }

    [Fact]
    public void Tasks_awaiting_each_other_are_a_deadlock_named_link_by_link()
    {
        var b = new SnapshotBuilder();
        var prices = b.Method("Catalog.LoadPricesAsync()", 20);
        var currencies = b.Method("Catalog.LoadCurrenciesAsync()", 27);
        b.Awaits(prices, currencies).Awaits(currencies, prices);

        var verdict = Assert.Single(Doctor.Diagnose(b.Build()).Verdicts);

        Assert.Equal("deadlock", verdict.Kind);
        Assert.Equal($"2 waits in a cycle: `Catalog.LoadPricesAsync()` at {F}:20 waits for `Catalog.LoadCurrenciesAsync()` at {F}:27 waits for `Catalog.LoadPricesAsync()`", verdict.Summary);
    }

    [Fact]
    public void A_thread_blocked_on_a_task_that_awaits_the_work_the_thread_runs_is_a_deadlock_not_sync_over_async()
    {
        var b = new SnapshotBuilder();
        var flush = b.Delegate("Task.Run(Journal.Flush())", 40);
        var write = b.Method("Journal.WriteAsync(string)", 47);
        b.Awaits(write, flush);
        b.Thread(4, [.. ResultWait, User("Journal.Flush()", 42), Dispatch, PoolWorker], waitsFor: write, step: flush);
        b.Thread(5, IdleWorker);

        var verdict = Assert.Single(Doctor.Diagnose(b.Build()).Verdicts);

        Assert.Equal("deadlock", verdict.Kind);
        Assert.Equal($"3 waits in a cycle: thread 4, blocked (.Result) in `Journal.Flush()` at {F}:42 waits for `Journal.WriteAsync(string)` at {F}:47 waits for `Task.Run(Journal.Flush())` at {F}:40 (running on thread 4) waits for thread 4", verdict.Summary);
        Assert.Equal([4], verdict.Threads);
    }

    [Fact]
    public void A_thread_outside_the_pool_blocked_on_a_method_whose_continuation_is_queued_is_a_context_deadlock()
    {
        var b = new SnapshotBuilder();
        var title = b.Method("UiLoop.LoadTitleAsync()", 79, note: "resuming");
        b.Thread(4, [.. ResultWait, User("UiLoop.OnClick()", 73)], waitsFor: title);

        var verdict = Assert.Single(Doctor.Diagnose(b.Build()).Verdicts);

        Assert.Equal("deadlock", verdict.Kind);
        Assert.Equal($"thread 4 blocked (.Result) in `UiLoop.OnClick()` at {F}:73 waiting for `UiLoop.LoadTitleAsync()`, whose continuation after {F}:79 is queued to run on the blocked thread's own context (a single-threaded SynchronizationContext): neither can go on", verdict.Summary);
    }

    [Fact]
    public void Many_requests_at_one_await_on_signals_are_stuck_and_on_their_own_io_are_not()
    {
        var stuck = new SnapshotBuilder();
        var io = new SnapshotBuilder();
        for (var i = 0; i < Doctor.StuckShared; i++)
        {
            var parked = stuck.Method("Parking.WaitAsync(CancellationToken)", 53);
            stuck.Awaits(parked, stuck.Awaited("Task.WaitAsync"));
            var reading = io.Method("Orders.GetOrderAsync(int)", 30);
            io.Awaits(reading, io.Awaited("socket I/O"));
        }

        var verdict = Assert.Single(Doctor.Diagnose(stuck.Build()).Verdicts);
        Assert.Equal("stuck-requests", verdict.Kind);
        Assert.Equal($"10 pending at `Parking.WaitAsync(CancellationToken)` at {F}:53, waiting for a Task.WaitAsync each (a signal some code must give, not I/O or a timer) (ages are not known from outside)", verdict.Summary);
        Assert.Equal("healthy", Assert.Single(Doctor.Diagnose(io.Build()).Verdicts).Kind);
    }

    [Fact]
    public void Requests_sharing_one_awaited_task_are_stuck_behind_it()
    {
        var b = new SnapshotBuilder();
        var gate = b.Awaited("TaskCompletionSource");
        for (var i = 0; i < Doctor.StuckShared; i++)
            b.Awaits(b.Method("Config.GetAsync()", 12), gate);

        var verdict = Assert.Single(Doctor.Diagnose(b.Build()).Verdicts);

        Assert.Equal($"10 pending at `Config.GetAsync()` at {F}:12, waiting for one TaskCompletionSource (ages are not known from outside)", verdict.Summary);
    }

    [Fact]
    public void Requests_awaiting_one_shared_method_are_stuck_behind_it_and_a_chain_of_their_own_counts_once()
    {
        var shared = new SnapshotBuilder();
        var fetch = shared.Method("Quotes.FetchRatesAsync()", 40);
        shared.Awaits(fetch, shared.Awaited("TaskCompletionSource"));
        var chains = new SnapshotBuilder();
        for (var i = 0; i < Doctor.StuckShared; i++)
        {
            shared.Awaits(shared.Method("Quotes.QuoteAsync(int)", 44), fetch);
            // Each request's own chain (handler -> client) parks once, where its innermost method waits.
            var client = chains.Method("Inventory.GetStockAsync(int)", 47);
            chains.Awaits(client, chains.Awaited("TaskCompletionSource"));
            chains.Awaits(chains.Method("Orders.GetOrderAsync(int)", 30), client);
        }

        var verdict = Assert.Single(Doctor.Diagnose(shared.Build()).Verdicts);
        var own = Assert.Single(Doctor.Diagnose(chains.Build()).Verdicts);

        Assert.Equal($"10 pending at `Quotes.QuoteAsync(int)` at {F}:44, waiting for one `Quotes.FetchRatesAsync()`, parked at {F}:40 on TaskCompletionSource (ages are not known from outside)", verdict.Summary);
        Assert.StartsWith($"10 pending at `Inventory.GetStockAsync(int)` at {F}:47, waiting for a TaskCompletionSource each", own.Summary);
    }

    [Fact]
    public void Requests_queued_on_a_semaphore_are_stuck_behind_its_holder_named_where_it_waits()
    {
        var b = new SnapshotBuilder();
        var holder = b.Method("Stock.RestockAsync()", 20);
        b.Awaits(holder, b.Awaited("Task.Delay"));
        var waits = new List<int>();
        for (var i = 0; i < Doctor.StuckShared; i++)
        {
            var request = b.Method("Stock.ReserveAsync(int)", 31);
            waits.Add(b.Awaited("SemaphoreSlim.WaitAsync"));
            b.Awaits(request, waits[^1]);
        }
        b.Semaphore("Stock._gate", holder, 18, 24, [.. waits]);

        var verdict = Assert.Single(Doctor.Diagnose(b.Build()).Verdicts);

        Assert.Equal("stuck-requests", verdict.Kind);
        Assert.Equal($"10 pending at `Stock.ReserveAsync(int)` at {F}:31, waiting for a SemaphoreSlim.WaitAsync each (a signal some code must give, not I/O or a timer); "
            + $"`Stock._gate` is held by `Stock.RestockAsync()`, parked at {F}:20 on Task.Delay (ages are not known from outside)", verdict.Summary);
        Assert.Equal(("holder", "Stock.RestockAsync()", 20), (verdict.Sites[^1].Role, verdict.Sites[^1].Method, verdict.Sites[^1].At!.Line));
    }

    [Fact]
    public void Requests_queued_on_a_semaphore_no_pending_code_holds_say_the_holder_cannot_be_named()
    {
        var b = new SnapshotBuilder();
        var waits = new List<int>();
        for (var i = 0; i < Doctor.StuckShared; i++)
        {
            var request = b.Method("Coupons.RedeemAsync(int)", 31);
            waits.Add(b.Awaited("SemaphoreSlim.WaitAsync"));
            b.Awaits(request, waits[^1]);
        }
        b.Semaphore("Coupons._gate", -1, null, 0, [.. waits]);

        var verdict = Assert.Single(Doctor.Diagnose(b.Build()).Verdicts);

        Assert.Equal($"10 pending at `Coupons.RedeemAsync(int)` at {F}:31, waiting for a SemaphoreSlim.WaitAsync each (a signal some code must give, not I/O or a timer); "
            + "`Coupons._gate` is at count 0 and no pending async method runs inside a try whose finally releases it: the holder cannot be named "
            + "(code that took it and returned without releasing it, or that releases it elsewhere, or a thread) (ages are not known from outside)", verdict.Summary);
        Assert.Equal(["parked"], verdict.Sites.Select(s => s.Role));
    }

    [Fact]
    public void A_semaphore_held_by_a_method_that_awaits_one_waiting_for_it_is_a_deadlock_named_link_by_link()
    {
        var b = new SnapshotBuilder();
        var restock = b.Method("Stock.RestockAsync()", 20);
        var recount = b.Method("Stock.RecountAsync()", 30);
        var wait = b.Awaited("SemaphoreSlim.WaitAsync");
        b.Awaits(restock, recount).Awaits(recount, wait).Semaphore("Stock._gate", restock, 17, 24, wait);
        var free = new SnapshotBuilder();
        var other = free.Method("Stock.RestockAsync()", 20);
        var waiting = free.Awaited("SemaphoreSlim.WaitAsync");
        free.Awaits(other, free.Awaited("Task.Delay")).Awaits(free.Method("Stock.RecountAsync()", 30), waiting).Semaphore("Stock._gate", other, 17, 24, waiting);

        var verdict = Assert.Single(Doctor.Diagnose(b.Build()).Verdicts);

        Assert.Equal("deadlock", verdict.Kind);
        Assert.Equal($"a SemaphoreSlim held while waiting for itself: `Stock.RestockAsync()` at {F}:20 holds the SemaphoreSlim `Stock._gate` (acquired at {F}:17, released at {F}:24) "
            + $"and waits for `Stock.RecountAsync()` at {F}:30, which waits for `Stock._gate`", verdict.Summary);
        Assert.Equal(["link", "link", "acquired", "released"], verdict.Sites.Select(site => site.Role));
        Assert.Equal("healthy", Assert.Single(Doctor.Diagnose(free.Build()).Verdicts).Kind);
    }

    [Fact]
    public void A_thread_that_ran_the_users_code_without_waiting_is_hot_and_one_that_waited_is_not()
    {
        var spin = new[] { new ThreadFrameText("Math.Sqrt(double)", null, "System.Math.Sqrt"), User("Reports.SpinAsync(int)", 31), Dispatch, PoolWorker };
        var hot = new SnapshotBuilder().Thread(9, spin, cpu: new ThreadCpu(0.98, 1, TimeSpan.FromSeconds(2)));
        var busy = new SnapshotBuilder().Thread(9, spin, cpu: new ThreadCpu(0.98, 40, TimeSpan.FromSeconds(2)));
        var slow = new SnapshotBuilder().Thread(9, spin, cpu: new ThreadCpu(0.5, 0, TimeSpan.FromSeconds(2)));

        var verdict = Assert.Single(Doctor.Diagnose(hot.Build()).Verdicts);

        Assert.Equal("hot-thread", verdict.Kind);
        Assert.Equal($"thread 9 ran `Reports.SpinAsync(int)` at {F}:31 without waiting for 2.0 s (98 % of the time running or ready to run)", verdict.Summary);
        Assert.Equal("healthy", Assert.Single(Doctor.Diagnose(busy.Build()).Verdicts).Kind);
        Assert.Equal("healthy", Assert.Single(Doctor.Diagnose(slow.Build()).Verdicts).Kind);
    }

    [Fact]
    public void A_busy_pool_worker_read_again_in_other_code_is_not_hot_one_still_in_the_same_method_is()
    {
        var delay = new[] { new ThreadFrameText("TimerQueue.EnsureTimerFiresBy(uint)", null, "System.Threading.TimerQueue.EnsureTimerFiresBy"), User("Ingest.ProduceAsync(int)", 38), Dispatch, PoolWorker };
        var cpu = new ThreadCpu(1.0, 0, TimeSpan.FromSeconds(1.6));
        ThreadFrameText[] elsewhere = [User("Ingest.StoreAsync(Batch)", 70), Dispatch, PoolWorker];
        ThreadFrameText[] sameMethod = [User("Ingest.ProduceAsync(int)", 36), Dispatch, PoolWorker];
        ThreadFrameText[] idle = [.. IdleWorker];

        ProcessState Read(ThreadFrameText[] again, long? completed = null)
        {
            var state = new SnapshotBuilder().Thread(5, delay, cpu: cpu).Build();
            return state with { Threads = [state.Threads[0] with { Again = again, CompletedBetweenReads = completed }] };
        }

        Assert.Equal("healthy", Assert.Single(Doctor.Diagnose(Read(elsewhere)).Verdicts).Kind);
        Assert.Equal("healthy", Assert.Single(Doctor.Diagnose(Read(idle)).Verdicts).Kind);
        Assert.Equal("hot-thread", Assert.Single(Doctor.Diagnose(Read(sameMethod)).Verdicts).Kind);
        Assert.Equal("hot-thread", Assert.Single(Doctor.Diagnose(Read(sameMethod, completed: 0)).Verdicts).Kind);
        // Found in the same method, but it completed work items in between: a stream of its steps, not one that runs on
        // (a loaded pipeline's producer read twice at load 30, HealthyAppsDoctorTests).
        Assert.Equal("healthy", Assert.Single(Doctor.Diagnose(Read(sameMethod, completed: 1_200)).Verdicts).Kind);
    }

    [Fact]
    public void A_thread_busy_in_a_packages_code_alone_is_not_hot_the_apps_code_under_it_is()
    {
        // A package's writer loop (StackExchange.Redis's) has lines from its PDB but is not the app's code.
        var writer = new ThreadFrameText("SwitchableBufferedStreamWriter.CopyOutAsync()", Line(120), "StackExchange.Redis.SwitchableBufferedStreamWriter.CopyOutAsync");
        var alone = new SnapshotBuilder().Thread(9, [writer, Dispatch, PoolWorker], cpu: new ThreadCpu(0.99, 1, TimeSpan.FromSeconds(1)));
        var called = new SnapshotBuilder().Thread(9, [writer, User("Cache.FillAsync()", 44), Dispatch, PoolWorker], cpu: new ThreadCpu(0.99, 1, TimeSpan.FromSeconds(1)));

        Assert.Equal("healthy", Assert.Single(Doctor.Diagnose(alone.Build()).Verdicts).Kind);
        Assert.Equal($"thread 9 ran `Cache.FillAsync()` at {F}:44 without waiting for 1.0 s (99 % of the time running or ready to run)",
            Assert.Single(Doctor.Diagnose(called.Build()).Verdicts).Summary);
    }

    [Fact]
    public void Without_processor_figures_a_core_dump_is_not_judged_hot_and_the_text_says_so()
    {
        var diagnosis = Doctor.Diagnose(new SnapshotBuilder().Thread(6, IdleWorker).Build(queued: null));
        var text = new StringWriter();

        DoctorReport.WriteText(text, diagnosis);

        Assert.Equal("asynclens doctor: healthy (pid 4242, 2026-12-05T06:00:00Z)\n\n"
            + "healthy: nothing stuck: 1 thread (1 in the thread pool, 1 idle, 0 blocked), 0 pending tasks\n\n"
            + "looked at: 1 managed thread (1 in the thread pool: 0 blocked, 1 idle), 0 pending tasks, work items queued: not counted, no processor use (a core dump: hot threads are not judged)\n",
            text.ToString());
    }

    [Fact]
    public void The_json_has_the_kind_the_sites_and_what_was_looked_at()
    {
        var json = new StringWriter();
        DoctorReport.WriteJson(json, Doctor.Diagnose(Blocked(blocked: 2, idle: 0).Build(queued: 3)));

        using var doc = System.Text.Json.JsonDocument.Parse(json.ToString());
        var root = doc.RootElement;
        Assert.False(root.GetProperty("healthy").GetBoolean());
        var verdict = Assert.Single(root.GetProperty("verdicts").EnumerateArray());
        Assert.Equal("pool-starvation", verdict.GetProperty("kind").GetString());
        Assert.Equal(2, verdict.GetProperty("count").GetInt32());
        Assert.Equal(2, verdict.GetProperty("of").GetInt32());
        Assert.Equal("""[{"role":"blocked","method":"OrderService.GetTotal()","file":"/src/Shop/Orders.cs","line":42},{"role":"waits-for","method":"PaymentClient.ChargeAsync()","file":"/src/Shop/Orders.cs","line":17}]""",
            verdict.GetProperty("sites").GetRawText());
        Assert.Equal("""{"threads":2,"poolThreads":2,"poolBlocked":2,"poolIdle":0,"pendingTasks":2,"queuedWorkItems":3,"cpuWatchedSeconds":null}""", root.GetProperty("looked").GetRawText());
    }
}
