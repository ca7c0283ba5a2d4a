using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using AsyncLens.Agent;
using AsyncLens.Attribution;
using AsyncLens.Symbols;
using AsyncLens.Tracking;

namespace AsyncLens.Diagnosis;

/// <summary>
/// What the thread pool's blocked workers wait for, learned from inside while it listens (another thread's stack cannot
/// be read in-process): the waits that begin meanwhile, and end not. Two sources, each raised when a thread begins to
/// wait, so they cost nothing while nothing listens and nothing waits:
/// <list type="bullet">
/// <item>the TPL's <c>TaskWaitBegin</c>, raised synchronously on the thread that blocks on a task: its stack names the
/// user's code that waited (<see cref="WaitSites"/>) and how (<c>.Result</c>);</item>
/// <item>the runtime's <c>ContentionStart</c> (a thread waiting to enter a <c>lock</c> / <c>Monitor.Enter</c> or a
/// <see cref="Lock"/>, with the OS thread holding it, .NET 8+) and <c>WaitHandleWaitStart</c> (.NET 9+: a
/// <c>Monitor.Wait</c>, which <see cref="SemaphoreSlim.Wait()"/> and <see cref="ManualResetEventSlim.Wait()"/> end in,
/// or a wait handle's). The runtime raises these natively and an <see cref="EventListener"/> receives them on a
/// dispatcher thread of its own (measured on .NET 10): they say which thread waits and who holds the lock, not the
/// waiter's stack, so where a lock's waiter waits is not known from inside.</item>
/// </list>
/// Groups are the pool's workers only (named so by the runtime on Linux: <see cref="LiveThreads.PoolWorkerName"/>), by
/// sentence, in the doctor's words (<see cref="LockWaitTexts.Blocked(string, string, string)"/>): a task wait by where it
/// was made, a lock by its holder, a <c>Monitor.Wait</c> all in one (its object is an internal monitor, not the app's).
/// </summary>
internal sealed class PoolWaits : IDisposable
{
    /// <summary>How long the watchdog (when trouble begins) and the console's <c>pool</c> (when the pool starves) listen.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(2);

    /// <summary>The line the watchdog and <c>pool</c> add when a group's place is not known: said once, with what reads it.</summary>
    public static string NoPlace(int pid) => string.Create(CultureInfo.InvariantCulture,
        $"where a thread waits to enter a lock or in Monitor.Wait is not known from inside (the runtime's events of those waits carry no stack): asynclens doctor {pid} reads every thread's stack from outside");

    private readonly object _gate = new();
    private readonly Dictionary<int, string> _tasks = [];
    // By OS thread: the holder of the lock it waits to enter; whether its wait handle wait is a Monitor.Wait.
    private readonly Dictionary<int, int> _locks = [];
    private readonly Dictionary<int, bool> _handles = [];
    private readonly TaskWaits _tpl;
    private readonly RuntimeWaits _runtime;

    private PoolWaits()
    {
        _tpl = new TaskWaits(this);
        _runtime = new RuntimeWaits(this);
    }

    /// <summary>Starts listening; <see cref="Dispose"/> stops.</summary>
    public static PoolWaits Listen() => new();

    public void Dispose()
    {
        _tpl.Dispose();
        _runtime.Dispose();
    }

    /// <summary>The pool's workers waiting now among those seen begin a wait, grouped by sentence, most first; whether each group's place is known.</summary>
    public List<PoolWaitGroup> Groups()
    {
        var threads = LiveThreads.OsThreads().ToDictionary(t => t.OsId, t => t.Name);
        var waiting = new List<(int Thread, string Sentence, bool Placed)>();
        lock (_gate)
        {
            foreach (var thread in _tasks.Keys.Concat(_locks.Keys).Concat(_handles.Keys).Distinct())
            {
                // The pool's workers by their name, where the kernel names threads (/proc); elsewhere every waiting thread.
                if (threads.Count > 0 && threads.GetValueOrDefault(thread) != LiveThreads.PoolWorkerName)
                    continue;
                if (_tasks.TryGetValue(thread, out var onTask))
                    waiting.Add((thread, onTask, true));
                else if (_locks.TryGetValue(thread, out var holder))
                    waiting.Add((thread, LockWaitTexts.Blocked("entering a lock", "", HeldBy(holder, threads)), false));
                else if (_handles.TryGetValue(thread, out var monitor))
                    waiting.Add((thread, monitor
                        ? LockWaitTexts.Blocked("waiting in Monitor.Wait (what SemaphoreSlim.Wait() and ManualResetEventSlim.Wait() end in)", "", "a wait the runtime records no holder of")
                        : LockWaitTexts.Blocked("waiting on a wait handle", "", "a wait the runtime records no holder of"), false));
            }
        }
        return [.. waiting.GroupBy(w => w.Sentence).Select(g => new PoolWaitGroup([.. g.Select(w => w.Thread).Order()], g.Key, g.First().Placed))
            .OrderByDescending(g => g.Threads.Count).ThenBy(g => g.Sentence, StringComparer.Ordinal)];
    }

    /// <summary>
    /// The groups judged by the doctor's rule on the pool's figures: <c>pool-starvation: 14 of 15 pool threads blocked;
    /// 3 entering a lock, held by ...; 1,800 work items queued</c> (the doctor's shape: the count blocked is the pool's,
    /// each group's those seen begin their wait), or, the pool not starved, the waits seen begin.
    /// </summary>
    public static string Describe(PoolFigures pool, IReadOnlyList<PoolWaitGroup> groups, TimeSpan over)
    {
        var seen = groups.Sum(g => g.Threads.Count);
        var each = string.Join("; ", groups.Select(g => $"{g.Threads.Count} {g.Sentence}"));
        if (pool.Starved)
        {
            var blocked = groups is [var one] && one.Threads.Count == pool.Waiting ? $" {one.Sentence}" : "; " + each;
            return $"{VerdictKinds.PoolStarvation}: {pool.Waiting} of {pool.Threads} pool threads blocked{blocked}; {Doctor.Plural(pool.Queued, "work item")} queued";
        }
        return string.Create(CultureInfo.InvariantCulture,
            $"{Doctor.Plural(seen, "pool thread")} began a blocking wait in the {over.TotalSeconds:0} s after it began, the pool not starved ({pool.Waiting} of {pool.Threads} blocked): {each}");
    }

    // The holder of a lock, an OS thread: its name (the kernel's), its managed id where debug mode knows the thread.
    private string HeldBy(int owner, Dictionary<int, string> names)
    {
        if (owner == 0)
            return "the holder not recorded";
        var managed = ThreadTracker.All.FirstOrDefault(t => t.OsThreadId == owner && t.Thread.IsAlive)?.ThreadId;
        var who = managed is { } id ? string.Create(CultureInfo.InvariantCulture, $"thread {id} (os {owner})")
            : names.TryGetValue(owner, out var name) ? string.Create(CultureInfo.InvariantCulture, $"the thread '{name}' (os {owner})")
            : string.Create(CultureInfo.InvariantCulture, $"the thread os {owner}");
        var where = _tasks.TryGetValue(owner, out var blocked) ? $", itself blocked {blocked}" : "";
        return $"held by {who}{where}";
    }

    /// <summary>TaskWaitBegin (synchronous ones) and TaskWaitEnd, on the thread that waits: where the user's code waited.</summary>
    private sealed class TaskWaits(PoolWaits owner) : EventListener
    {
        private const int TaskWaitBegin = 10;
        private const int TaskWaitEnd = 11;
        private const int Synchronous = 1;

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == TplListener.SourceName)
                EnableEvents(eventSource, EventLevel.Informational, (EventKeywords)0x1);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            // Null while the base constructor enables the TPL source (its events may come before the primary constructor's field is set).
            if (owner is not { } waits)
                return;
            // The waiting thread's own (the event is raised on it), as the runtime's events name theirs.
            var thread = (int)e.OSThreadId;
            if (e.EventId == TaskWaitEnd)
            {
                lock (waits._gate)
                    waits._tasks.Remove(thread);
                return;
            }
            if (e.EventId != TaskWaitBegin || e.Payload is not { Count: >= 4 } p || Convert.ToInt32(p[3], CultureInfo.InvariantCulture) != Synchronous)
                return;
            var taken = new StackTrace(1, false).GetFrames();
            var stack = taken.Select(f => (f.GetMethod(), f.GetILOffset())).ToList();
            if (WaitSites.Waiter(stack, null) is not { } waiter)
                return;
            var frames = taken.Select(LiveThreads.Frame).Where(f => f is not null).Select(f => f!).ToList();
            var how = ThreadStates.HowItWaits(new ObservedThread(Environment.CurrentManagedThreadId, (uint)thread, false, frames));
            var at = MethodSymbols.LineAt(waiter.Method, waiter.ILOffset) is { } l ? new SourceLine(l.File, l.Line) : null;
            var sentence = $"in {Doctor.Named(MethodNames.Format(waiter.Method), at)} waiting{(how is null ? "" : $" ({how})")} for a task";
            lock (waits._gate)
                waits._tasks[thread] = sentence;
        }
    }

    /// <summary>The runtime's ContentionStart/Stop and WaitHandleWaitStart/Stop, on its dispatcher thread: which thread waits, on what, held by whom.</summary>
    private sealed class RuntimeWaits(PoolWaits owner) : EventListener
    {
        private const EventKeywords WaitHandle = (EventKeywords)0x40000000000;

        // Event ids of the runtime's manifest (ClrEtwAll.man), stable across versions; contention's are RuntimeEvents'.
        private const int WaitHandleWaitStart = 301;
        private const int WaitHandleWaitStop = 302;
        private const int MonitorWait = 1;

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == RuntimeEvents.SourceName)
                EnableEvents(eventSource, EventLevel.Verbose, RuntimeEvents.ContentionKeyword | WaitHandle);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (owner is not { } waits)
                return;
            ThreadTracker.IsEngineThread = true; // the runtime's dispatch thread: nothing it does is the app's
            var thread = (int)e.OSThreadId;
            lock (waits._gate)
            {
                switch (e.EventId)
                {
                    case RuntimeEvents.ContentionStart:
                        waits._locks[thread] = (int)Number(e, "LockOwnerThreadID");
                        break;
                    case RuntimeEvents.ContentionStop:
                        waits._locks.Remove(thread);
                        break;
                    case WaitHandleWaitStart:
                        waits._handles[thread] = Number(e, "WaitSource") == MonitorWait;
                        break;
                    case WaitHandleWaitStop:
                        waits._handles.Remove(thread);
                        break;
                }
            }
        }

        private static long Number(EventWrittenEventArgs e, string name) =>
            (e.PayloadNames?.IndexOf(name) is { } i and >= 0 ? e.Payload?[i] : null) switch
            {
                nint p => p,
                ulong u => (long)u,
                long l => l,
                uint u => u,
                int n => n,
                ushort u => u,
                byte b => b,
                _ => 0,
            };
    }
}

/// <summary>Pool threads (OS ids) waiting alike: the sentence, and whether it says where they wait (a task's waiter's line).</summary>
internal sealed record PoolWaitGroup(IReadOnlyList<int> Threads, string Sentence, bool Placed);
