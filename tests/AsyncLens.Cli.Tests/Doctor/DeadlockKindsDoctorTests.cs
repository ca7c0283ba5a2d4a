using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>
/// The deadlocks a runtime does not link by itself, named link by link from outside: a <see cref="SemaphoreSlim"/> held
/// by async code that waits for a wait on it (the holder read from its finally), threads on <see cref="Lock"/> and on
/// <see cref="ReaderWriterLockSlim"/> write locks; threads holding what keeps no owner (a SemaphoreSlim taken with
/// <c>Wait()</c>, a read lock, a Mutex, a Semaphore: the holder read from its finally, which may release it in a method
/// of its own, the lock kept in a field or in a local) in a cycle with a monitor; waits on events and on a semaphore no
/// code holds, named without a verdict, and a few async waits on one; and requests queued behind a semaphore's holder,
/// or behind a semaphore no code holds, and a thousand behind one call to a dependency that never answers. One process
/// stuck every way (tests/Targets/Deadlocks <c>every</c>) is read once as text, once as JSON and once from a core dump.
/// </summary>
public sealed class DeadlockKindsDoctorTests(DeadlockKindsDoctorTests.EveryDeadlock every) : IClassFixture<DeadlockKindsDoctorTests.EveryDeadlock>
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Deadlocks"));

    private static string At(string tag) => $"{s_at[tag].File}:{s_at.Line(tag)}";

    private static string Semaphore => $"deadlock: a SemaphoreSlim held while waiting for itself: `Stock.RestockAsync(int)` at {At("dl.restock.await")} holds the SemaphoreSlim `Stock._gate` "
        + $"(acquired at {At("dl.restock.acquire")}, released at {At("dl.restock.release")}) and waits for `Stock.RecountAsync()` at {At("dl.recount.acquire")}, which waits for `Stock._gate`";

    [Fact]
    public void A_semaphore_held_by_a_task_that_waits_for_a_task_that_waits_for_the_semaphore()
    {
        Assert.True(every.Text.ExitCode == 1, every.Text.ToString());
        Assert.Contains(Semaphore, DoctorRun.Verdicts(every.Text));
        Assert.Contains($"    SemaphoreSlim `Stock._gate`: count 0, 1 async wait queued; `Stock.RestockAsync(int)` releases it at {At("dl.restock.release")}\n", every.Text.Stdout);
    }

    [Fact]
    public void A_semaphore_cycle_in_json_names_each_link_and_the_holder_s_acquire_and_release()
    {
        var verdict = every.Json.RootElement.GetProperty("verdicts").EnumerateArray().Single(v => v.GetProperty("summary").GetString()!.StartsWith("a SemaphoreSlim", StringComparison.Ordinal));
        Assert.Equal("deadlock", verdict.GetProperty("kind").GetString());
        Assert.Equal(3, verdict.GetProperty("count").GetInt32());
        Assert.Equal(
            $$"""[{{Site("link", "Stock.RestockAsync(int)", "dl.restock.await")}},{{Site("link", "Stock.RecountAsync()", "dl.recount.acquire")}},{{Site("acquired", "Stock.RestockAsync(int)", "dl.restock.acquire")}},{{Site("released", "Stock.RestockAsync(int)", "dl.restock.release")}}]""",
            verdict.GetProperty("sites").GetRawText());
    }

    [Fact]
    public void Threads_taking_two_System_Threading_Locks_in_opposite_order()
    {
        Assert.True(DoctorRun.Verdicts(every.Text).Count(v => Regex.IsMatch(v,
            @"^deadlock: 2 threads in a cycle of locks: thread (\d+), blocked entering a lock \(Lock\) in `PriceList\.Reprice\(\)` at " + Regex.Escape(At("dl.reprice.lock"))
            + @", held by thread (\d+); thread \2, blocked entering a lock \(Lock\) in `PriceList\.Publish\(\)` at " + Regex.Escape(At("dl.publish.lock")) + @", held by thread \1$")) == 1, every.Text.Stdout);
    }

    [Fact]
    public void Threads_taking_two_ReaderWriterLockSlim_write_locks_in_opposite_order_in_text_and_json()
    {
        Assert.True(DoctorRun.Verdicts(every.Text).Count(v => Regex.IsMatch(v,
            @"^deadlock: 2 threads in a cycle of locks: thread (\d+), blocked entering a lock \(ReaderWriterLockSlim\) in `CacheIndex\.Refresh\(\)` at " + Regex.Escape(At("dl.refresh.write"))
            + @", held by thread (\d+); thread \2, blocked entering a lock \(ReaderWriterLockSlim\) in `CacheIndex\.Rebuild\(\)` at " + Regex.Escape(At("dl.rebuild.write")) + @", held by thread \1$")) == 1, every.Text.Stdout);
        var verdict = every.Json.RootElement.GetProperty("verdicts").EnumerateArray().Single(v => v.GetProperty("summary").GetString()!.Contains("(ReaderWriterLockSlim)", StringComparison.Ordinal));
        Assert.Equal("deadlock", verdict.GetProperty("kind").GetString());
        Assert.Equal($"[{Site("link", "CacheIndex.Refresh()", "dl.refresh.write")},{Site("link", "CacheIndex.Rebuild()", "dl.rebuild.write")}]", verdict.GetProperty("sites").GetRawText());
    }

    // A monitor's holder is recorded; the other lock's holder is a thread inside the try whose finally releases it.
    private static string HeldByCode(string holder, string holderTag, string waiter, string waiterTag, string waitedFor) =>
        $@"^deadlock: 2 threads in a cycle of locks: thread (\d+), blocked entering a lock \(Object\) in `{Regex.Escape(holder)}` at {Regex.Escape(At(holderTag))}, held by thread (\d+); "
        + $@"thread \2, blocked waiting for {Regex.Escape(waitedFor)} in `{Regex.Escape(waiter)}` at {Regex.Escape(At(waiterTag))}, ";

    private static readonly string s_semaphoreWait = HeldByCode("Shelf.Count()", "dl.count.lock", "Shelf.Restock()", "dl.restock.wait", "SemaphoreSlim `Shelf.s_gate`") + @"held by thread \1$";

    private static readonly string s_readLock = HeldByCode("PriceTable.Report()", "dl.report.lock", "PriceTable.Update()", "dl.update.write", "ReaderWriterLockSlim `PriceTable.s_table`") + @"read-locked by thread \1$";

    private static readonly string s_mutex = HeldByCode("Export.Run()", "dl.export.lock", "Export.Archive()", "dl.archive.wait", "Mutex `Export.s_oneExport`") + @"held by thread \1$";

    private static readonly string s_semaphoreHandle = HeldByCode("Spooler.Print()", "dl.spool.lock", "Spooler.Flush()", "dl.spool.wait", "Semaphore `Spooler.s_printer`") + @"held by thread \1$";

    // Released in a method the holder's finally calls; kept in a local (the waiter's call names no field either).
    private static readonly string s_helper = HeldByCode("Warehouse.Transfer()", "dl.dock.lock", "Warehouse.Audit()", "dl.dock.wait", "SemaphoreSlim `Warehouse._dock`") + @"held by thread \1$";

    // Released by a method the holder's finally passes it to.
    private static readonly string s_argument = HeldByCode("Bays.Load()", "dl.bay.lock", "Bays.Inspect()", "dl.bay.wait", "SemaphoreSlim `Bays._bay`") + @"held by thread \1$";

    // Released by a helper of a helper the holder's finally calls (the first passes it to the second).
    private static readonly string s_passedOn = HeldByCode("Yards.Deliver()", "dl.yard.lock", "Yards.Count()", "dl.yard.wait", "SemaphoreSlim `Yards._gate`") + @"held by thread \1$";

    private static readonly string s_local = HeldByCode("Invoices.Issue(string)", "dl.issue.lock", "Invoices.Close(string)", "dl.close.wait", "SemaphoreSlim") + @"held by thread \1$";

    private static readonly string[] s_waits =
    [
        $@"^  thread \d+ blocked waiting on ManualResetEventSlim `Settlement\.s_drained` in `Settlement\.Drain\(\)` at {Regex.Escape(At("dl.drain.wait"))}; an event: who would set it is not known$",
        $@"^  thread \d+ blocked waiting on AutoResetEvent `Settlement\.s_paperLoaded` in `Settlement\.Print\(\)` at {Regex.Escape(At("dl.print.wait"))}; an event: who would set it is not known$",
        $@"^  thread \d+ blocked waiting for SemaphoreSlim `Settlement\.s_batch` in `Settlement\.Settle\(\)` at {Regex.Escape(At("dl.settle.wait"))}; no thread runs inside a try whose finally releases it: "
            + @"the holder cannot be named \(code that took it and returned without releasing it, or that releases it elsewhere\)$",
        $@"^  3 async waits queued for SemaphoreSlim `Vouchers\._gate` in `Vouchers\.RedeemAsync\(int\)` at {Regex.Escape(At("dl.voucher.wait"))}; it is at count 0 and no pending async method "
            + @"runs inside a try whose finally releases it: the holder cannot be named \(code that took it and returned without releasing it, or that releases it elsewhere, or a thread\)$",
    ];

    [Fact]
    public void Threads_holding_a_semaphore_taken_with_Wait_a_read_lock_and_a_mutex_in_cycles_with_a_monitor()
    {
        var verdicts = DoctorRun.Verdicts(every.Text);
        Assert.All(new[] { s_semaphoreWait, s_readLock, s_mutex }, pattern => Assert.True(verdicts.Count(v => Regex.IsMatch(v, pattern)) == 1, pattern + "\n" + every.Text.Stdout));
    }

    [Fact]
    public void Threads_holding_a_Semaphore_a_semaphore_released_in_a_method_of_their_own_and_one_kept_in_a_local_in_cycles_with_a_monitor()
    {
        var verdicts = DoctorRun.Verdicts(every.Text);
        Assert.All(new[] { s_semaphoreHandle, s_helper, s_passedOn, s_local }, pattern => Assert.True(verdicts.Count(v => Regex.IsMatch(v, pattern)) == 1, pattern + "\n" + every.Text.Stdout));
        string Sites(string needle) => every.Json.RootElement.GetProperty("verdicts").EnumerateArray()
            .Single(v => v.GetProperty("summary").GetString()!.Contains(needle, StringComparison.Ordinal)).GetProperty("sites").GetRawText();
        // Where the holder releases it: the call in its finally (the method it calls releases it).
        Assert.Equal($"[{Site("link", "Warehouse.Transfer()", "dl.dock.lock")},{Site("link", "Warehouse.Audit()", "dl.dock.wait")},{Site("released", "Warehouse.Transfer()", "dl.dock.leave")}]",
            Sites("`Warehouse.Audit()`"));
        Assert.Equal($"[{Site("link", "Invoices.Issue(string)", "dl.issue.lock")},{Site("link", "Invoices.Close(string)", "dl.close.wait")},{Site("released", "Invoices.Issue(string)", "dl.issue.release")}]",
            Sites("`Invoices.Close(string)`"));
        Assert.Equal($"[{Site("link", "Spooler.Print()", "dl.spool.lock")},{Site("link", "Spooler.Flush()", "dl.spool.wait")},{Site("released", "Spooler.Print()", "dl.spool.release")}]",
            Sites("`Spooler.s_printer`"));
    }

    [Fact]
    public void A_mutex_cycle_in_json_names_each_link_and_where_the_holder_releases_it()
    {
        var verdict = every.Json.RootElement.GetProperty("verdicts").EnumerateArray().Single(v => v.GetProperty("summary").GetString()!.Contains("Mutex `Export.s_oneExport`", StringComparison.Ordinal));
        Assert.Equal("deadlock", verdict.GetProperty("kind").GetString());
        Assert.Equal(2, verdict.GetProperty("count").GetInt32());
        Assert.Equal($"[{Site("link", "Export.Run()", "dl.export.lock")},{Site("link", "Export.Archive()", "dl.archive.wait")},{Site("released", "Export.Run()", "dl.export.release")}]",
            verdict.GetProperty("sites").GetRawText());
    }

    [Fact]
    public void Waits_on_events_and_on_a_semaphore_nobody_holds_are_named_with_their_lines_without_a_verdict()
    {
        var block = every.Text.Stdout.Split("\n\n").Single(b => b.StartsWith("waits on locks and events", StringComparison.Ordinal)).Split('\n');
        Assert.Equal("waits on locks and events, not judged (one read cannot tell whether they will end):", block[0]);
        Assert.Equal(s_waits.Length, block.Length - 1);
        Assert.All(s_waits.Zip(block[1..]), p => Assert.Matches(p.First, p.Second));
        var settle = every.Json.RootElement.GetProperty("waits").EnumerateArray().Single(w => w.GetProperty("name").GetString() == "Settlement.s_batch");
        Assert.Equal(JsonValueKind.Null, settle.GetProperty("holder").ValueKind);
        Assert.Equal(("SemaphoreSlim", "Settlement.Settle()", s_at[("dl.settle.wait")].File, s_at.Line("dl.settle.wait")),
            (settle.GetProperty("type").GetString(), settle.GetProperty("method").GetString(), settle.GetProperty("file").GetString(), settle.GetProperty("line").GetInt32()));
    }

    // Fewer queued async waits than requests called stuck, on a semaphore no code holds: listed, not judged (a semaphore
    // used as a signal, released by a producer, idles at count 0 with consumers queued and no holder).
    [Fact]
    public void A_few_async_waits_on_a_semaphore_nobody_holds_are_listed_with_their_line_without_a_verdict()
    {
        Assert.DoesNotContain(DoctorRun.Verdicts(every.Text), v => v.Contains("Vouchers", StringComparison.Ordinal));
        var vouchers = every.Json.RootElement.GetProperty("waits").EnumerateArray().Single(w => w.GetProperty("name").GetString() == "Vouchers._gate");
        Assert.Equal((JsonValueKind.Null, 3, JsonValueKind.Null), (vouchers.GetProperty("thread").ValueKind, vouchers.GetProperty("tasks").GetInt32(), vouchers.GetProperty("holder").ValueKind));
        Assert.Equal(("SemaphoreSlim", "Vouchers.RedeemAsync(int)", s_at["dl.voucher.wait"].File, s_at.Line("dl.voucher.wait")),
            (vouchers.GetProperty("type").GetString(), vouchers.GetProperty("method").GetString(), vouchers.GetProperty("file").GetString(), vouchers.GetProperty("line").GetInt32()));
    }

    [Fact]
    public void Requests_queued_on_a_semaphore_are_stuck_behind_its_holder()
    {
        var verdict = DoctorRun.Verdicts(every.Text).Single(v => v.StartsWith("stuck-requests: 12 ", StringComparison.Ordinal));
        Assert.True(DoctorRun.IsStuck($"stuck-requests: 12 pending at `Reservations.ReserveAsync(int)` at {At("dl.reserve.wait")}, waiting for a SemaphoreSlim.WaitAsync each (a signal some code must give, not I/O or a timer); "
            + $"`Reservations._gate` is held by `Reservations.RestockAsync()`, parked at {At("dl.supplier.await")} on TaskCompletionSource", verdict), verdict);
    }

    [Fact]
    public void A_thousand_requests_awaiting_one_call_to_a_dependency_that_never_answers_are_stuck_behind_it()
    {
        var text = DoctorRun.Verdicts(every.Text).Single(v => v.StartsWith("stuck-requests: 1,000 ", StringComparison.Ordinal));
        Assert.True(DoctorRun.IsStuck($"stuck-requests: 1,000 pending at `Quotes.QuoteAsync(int)` at {At("dl.quote.await")}, waiting for one `Quotes.FetchRatesAsync()`, parked at {At("dl.rates.await")} "
            + "on TaskCompletionSource", text), text);
        var verdict = every.Json.RootElement.GetProperty("verdicts").EnumerateArray().Single(v => v.GetProperty("summary").GetString()!.Contains("`Quotes.QuoteAsync(int)`", StringComparison.Ordinal));
        Assert.Equal(1000, verdict.GetProperty("count").GetInt32());
    }

    private static string Abandoned => $"stuck-requests: 11 pending at `Coupons.RedeemAsync(int)` at {At("dl.redeem.wait")}, waiting for a SemaphoreSlim.WaitAsync each (a signal some code must give, not I/O or a timer); "
        + "`Coupons._gate` is at count 0 and no pending async method runs inside a try whose finally releases it: the holder cannot be named "
        + "(code that took it and returned without releasing it, or that releases it elsewhere, or a thread)";

    [Fact]
    public void Requests_queued_on_a_semaphore_no_code_holds_say_its_holder_cannot_be_named()
    {
        Assert.True(DoctorRun.IsStuck(Abandoned, DoctorRun.Verdicts(every.Text)[^1]), every.Text.Stdout);
        var verdict = every.Json.RootElement.GetProperty("verdicts").EnumerateArray().Single(v => v.GetProperty("summary").GetString()!.Contains("`Coupons._gate`", StringComparison.Ordinal));
        Assert.Equal(("stuck-requests", 11), (verdict.GetProperty("kind").GetString(), verdict.GetProperty("count").GetInt32()));
        Assert.Equal($"[{Site("parked", "Coupons.RedeemAsync(int)", "dl.redeem.wait")}]", verdict.GetProperty("sites").GetRawText());
    }

    [Fact]
    public void Every_kind_at_once_each_once_and_the_same_from_a_core_dump()
    {
        var live = DoctorRun.Verdicts(every.Text);
        Assert.Equal(17, live.Length);
        Assert.All(live[..14], v => Assert.StartsWith("deadlock: ", v));
        using var dir = new TempDirectory("asynclens-doctor-");
        var dump = ChildProcess.Dotnet([Repo.Cli, "dump-core", every.Target.Pid.ToString(CultureInfo.InvariantCulture), "-o", dir.File("deadlock.core")], timed: false);
        Assert.True(dump.ExitCode == 0, dump.ToString());

        var result = ChildProcess.Dotnet([Repo.Cli, "doctor", "--dump", dir.File("deadlock.core")], timed: false, timeout: TimeSpan.FromMinutes(3));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal(live.Select(DoctorRun.AsOneRead), DoctorRun.Verdicts(result));
        Assert.EndsWith(", no processor use (a core dump: hot threads are not judged)\n", result.Stdout);
    }

    [Fact]
    public void A_semaphore_cycle_the_locks_without_owners_and_the_waits_in_a_Release_build()
    {
        using var target = new StuckProgram("Deadlocks", "Release", ["semaphore", "sem-wait", "rw-read", "mutex", "sem-handle", "helper", "argument", "passed-on", "local", "waits", "abandoned", "few-waiters"]);
        var result = DoctorRun.Run(target.Pid);

        Assert.True(result.ExitCode == 1, result.ToString());
        var verdicts = DoctorRun.Verdicts(result);
        Assert.Equal(10, verdicts.Length);
        Assert.Contains(Semaphore, verdicts);
        Assert.True(DoctorRun.IsStuck(Abandoned, verdicts[^1]), result.Stdout);
        Assert.All(new[] { s_semaphoreWait, s_readLock, s_mutex, s_semaphoreHandle, s_helper, s_argument, s_passedOn, s_local }, pattern => Assert.True(verdicts.Count(v => Regex.IsMatch(v, pattern)) == 1, pattern + "\n" + result.Stdout));
        var waits = result.Stdout.Split("\n\n").Single(b => b.StartsWith("waits on locks and events", StringComparison.Ordinal)).Split('\n')[1..];
        Assert.All(s_waits.Zip(waits), p => Assert.Matches(p.First, p.Second));
        Assert.Equal(s_waits.Length, waits.Length);
    }

    private static string Site(string role, string method, string tag) =>
        $$"""{"role":"{{role}}","method":"{{method}}","file":"{{s_at[tag].File}}","line":{{s_at.Line(tag)}}}""";

    /// <summary>tests/Targets/Deadlocks <c>every</c>, read by <c>doctor</c> once as text and once as JSON.</summary>
    public sealed class EveryDeadlock : IDisposable
    {
        private readonly Lazy<ProcessResult> _text;
        private readonly Lazy<JsonDocument> _json;

        public EveryDeadlock()
        {
            Target = new StuckProgram("Deadlocks", "every");
            _text = new(() => DoctorRun.Run(Target.Pid));
            _json = new(() =>
            {
                var result = DoctorRun.Run(Target.Pid, "--format", "json");
                Assert.True(result.ExitCode == 1, result.ToString());
                return JsonDocument.Parse(result.Stdout);
            });
        }

        internal StuckProgram Target { get; }

        internal ProcessResult Text => _text.Value;

        internal JsonDocument Json => _json.Value;

        public void Dispose()
        {
            if (_json.IsValueCreated)
                _json.Value.Dispose();
            Target.Dispose();
        }
    }
}
