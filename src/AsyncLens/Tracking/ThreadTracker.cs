namespace AsyncLens.Tracking;

/// <summary>
/// What one thread is running now: its stack of nested frames and any synchronous wait.
/// Written only by its own thread (from TPL events); read by the watchdog.
/// </summary>
internal sealed class ThreadTracker
{
    [ThreadStatic] private static ThreadTracker? t_current;

    private static readonly object s_gate = new();
    private static ThreadTracker[] s_all = [];
    private static int s_generation;

    private Frame[] _frames = new Frame[8];
    private volatile int _depth;

    private readonly int _generation;

    private ThreadTracker(Thread thread, int generation)
    {
        _generation = generation;
        Thread = thread;
        ThreadId = thread.ManagedThreadId;
        IsPoolThread = thread.IsThreadPoolThread;
        OsThreadId = RunQueue.CurrentOsThreadId();
        WorkItemCounter = Runtime.WorkItems.CounterOfThisThread();
        _blocked = Runtime.EngineLocks.BlockedOnThisThread;
        for (var i = 0; i < _frames.Length; i++)
            _frames[i] = new Frame();
        // The first sample, taken by the thread itself at its first event: a step it was already running when the
        // watchdog first sampled it is measured from here.
        if (KeepsSchedHistory)
            (Sched = new SchedHistory()).Add(DateTime.UtcNow.Ticks, OwnTimes());
    }

    /// <summary>Set while debug mode takes its steps from the async events: each thread keeps <see cref="Sched"/>.</summary>
    public static volatile bool KeepsSchedHistory;

    public static ThreadTracker Current => Existing ?? Register();

    /// <summary>The calling thread's tracker if it has one already (it raised an event since debug mode started).</summary>
    public static ThreadTracker? Existing => t_current is { } t && t._generation == Volatile.Read(ref s_generation) ? t : null;

    /// <summary>True on AsyncLens's own threads, whose tasks and waits are not the app's.</summary>
    [ThreadStatic] public static bool IsEngineThread;

    public Thread Thread { get; }

    public int ThreadId { get; }

    public bool IsPoolThread { get; }

    /// <summary>The OS thread id (Linux), for other threads to read how long this one waited for a CPU.</summary>
    public int OsThreadId { get; }

    /// <summary>
    /// The thread pool's counter of this thread's completed work items (null off the pool), for another thread to tell
    /// whether a frame standing for a stretch no event ends (a request's) is over (<see cref="Runtime.WorkItems.Completed"/>).
    /// </summary>
    public object? WorkItemCounter { get; }

    // The thread's scheduler figures are refreshed at a step's start when older than this.
    private const long SnapshotTicks = TimeSpan.TicksPerMillisecond * 10;
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _schedstat;
    private bool _schedstatOpened;

    // The thread's figures, refreshed at a step's start when older than SnapshotTicks.
    private ThreadBaseline _snapshot = new(long.MinValue / 2, SchedTimes.Unavailable, 0);

    /// <summary>
    /// The scheduler figures to measure a step starting now against: how it spends its time (see
    /// <see cref="Attribution.TimeSplit"/>) and how long it waits for a CPU. Read at most every 10 ms (a step may have
    /// up to 10 ms of earlier time counted in, and of earlier waiting taken off it; never waiting of its own left on).
    /// </summary>
    public SchedTimes TimesBaseline(long now) => Baseline(now).Times;

    /// <summary>
    /// As <see cref="TimesBaseline"/>, with the thread's compilation counter read at the same time (up to 10 ms of its
    /// earlier compiling counted in): what a run entered on the async events alone keeps, for the few that prove slow.
    /// </summary>
    public ThreadBaseline Baseline(long now)
    {
        if (now - _snapshot.At >= SnapshotTicks)
            _snapshot = new ThreadBaseline(now, OwnTimes(), RuntimeTime.JitOnThisThread);
        return _snapshot;
    }

    /// <summary>The calling thread's (this tracker's own) scheduler figures now.</summary>
    public SchedTimes OwnTimes()
    {
        if (Schedstat() is not { } handle)
            return SchedTimes.Unavailable;
        var (onCpu, waited) = RunQueue.ReadBoth(handle);
        return new SchedTimes(onCpu, waited, RunQueue.VoluntarySwitches());
    }

    private Microsoft.Win32.SafeHandles.SafeFileHandle? Schedstat()
    {
        if (!_schedstatOpened)
        {
            _schedstatOpened = true;
            _schedstat = RunQueue.OpenOwn();
        }
        return _schedstat;
    }

    /// <summary>
    /// On .NET 11's async events, when the thread entered the app's execution context with nothing standing on it (a
    /// delegate task's run, a work item, a timer's callback, a thread of the app's own, a resumed step), 0 once left:
    /// written by the thread alone (SlowSteps.EnteredRuns.cs).
    /// </summary>
    public long EnteredAt;

    /// <summary>Its scheduler figures and compilation counter when it entered at <see cref="EnteredAt"/> (<see cref="Baseline"/>: up to 10 ms old).</summary>
    public ThreadBaseline? EnteredBaseline;

    /// <summary>Its last slow run left, for the watchdog to take (SlowSteps.EnteredRuns.cs); null once taken.</summary>
    public object? LeftRun;

    // AsyncLens's own time on this thread (see EngineTime): events handled, the sampled ones and their time, and the
    // time waited for AsyncLens's locks. Written by the thread itself.
    public long Events;
    public long Samples;
    public long SampledTicks;
    private readonly System.Runtime.CompilerServices.StrongBox<long> _blocked;

    public long BlockedTicks => Volatile.Read(ref _blocked.Value);

    /// <summary>AsyncLens's time in <paramref name="frame"/> (a frame of this thread), frames nested in it included.</summary>
    public long EngineTicksWithin(Frame frame) => EngineTime.Estimate(Events - frame.EventsStart, Samples - frame.SamplesStart,
        SampledTicks - frame.SampledStart, BlockedTicks - frame.BlockedStart, Samples, SampledTicks);

    /// <summary>AsyncLens's time in <paramref name="frame"/> itself: less what nested async steps account for on their own.</summary>
    public long EngineTicks(Frame frame) => Math.Max(0, EngineTicksWithin(frame) - frame.ChildEngineTicks);

    public int Depth => _depth;

    /// <summary>
    /// Whether <paramref name="request"/>, a <see cref="FrameKind.Request"/> frame of this thread, stands for nothing any
    /// more though this thread has not taken it off yet (it does so at its next event; any thread may ask, the watchdog
    /// does): the handler it stands for ended, on whichever thread its last step ran (the framework's activity around it
    /// stopped), or the work item it began in completed (the thread went back to the pool, its handler parked). The
    /// handler run <paramref name="endingHere"/>, ending now on this thread in the work item it began in, is still stood
    /// for: its frame is judged to this end.
    /// </summary>
    public bool StandsForNothing(Frame request, System.Diagnostics.Activity? endingHere = null) =>
        request.HandlerRun is { IsStopped: true } run && !ReferenceEquals(run, endingHere) || WorkItemOver(request);

    /// <summary>
    /// Whether the work item <paramref name="request"/> began in has completed: this thread went back to the pool (or on to
    /// other work), and runs nothing of it any more. Unlike a handler's end, which the thread that ran it last is told of
    /// (and may be judging its frame right now), nothing tells an idle thread this: the watchdog asks.
    /// </summary>
    public bool WorkItemOver(Frame request) =>
        request.WorkItem >= 0 && Runtime.WorkItems.Completed(WorkItemCounter) is var done and >= 0 && done != request.WorkItem;

    /// <summary>Where this thread's async methods last parked, and its reported waits: for steps the async events deliver late.</summary>
    public ParkNotes Notes { get; } = new();

    /// <summary>The watchdog's samples of this thread's scheduler figures, for steps the async events deliver late.</summary>
    public SchedHistory? Sched;

    /// <summary>The open synchronous wait on this thread, if any.</summary>
    public volatile SyncWait? Wait;

    public static ThreadTracker[] All => Volatile.Read(ref s_all);

    public Frame? Top => _depth > 0 ? _frames[_depth - 1] : null;

    public Frame? FrameAt(int index)
    {
        var frames = _frames;
        return index < _depth && index < frames.Length ? frames[index] : null;
    }

    /// <summary>True when an async method step is running on this thread (at any depth).</summary>
    public bool InAsyncStep()
    {
        for (var i = _depth - 1; i >= 0; i--)
        {
            if (_frames[i].Kind == FrameKind.AsyncStep)
                return true;
        }
        return false;
    }

    /// <summary>Changes whenever a frame starts or ends: records created under the same epoch came from the same step.</summary>
    public int Epoch { get; private set; }

    // The last task record created on this thread with no frame on it, and the epoch it was created in.
    private TaskRecord? _lastCreated;
    private int _lastCreatedEpoch;

    /// <summary>
    /// A task record created on this thread, <paramref name="frame"/> its innermost frame: linked after the last one
    /// that frame created (<see cref="Frame.FirstCreated"/>), whatever frames ran nested in between; with no frame (events
    /// started mid-step), after the last one created since a frame last began or ended here.
    /// </summary>
    public void Created(Frame? frame, TaskRecord record)
    {
        if (frame is not null)
        {
            if (frame.LastCreated is { } previous)
                previous.Link(record);
            else
                frame.FirstCreated = record;
            frame.LastCreated = record;
            return;
        }
        if (_lastCreated is { } last && _lastCreatedEpoch == Epoch)
            last.Link(record);
        _lastCreated = record;
        _lastCreatedEpoch = Epoch;
    }

    public Frame Push()
    {
        Epoch++;
        if (_depth == _frames.Length)
        {
            var bigger = new Frame[_frames.Length * 2];
            Array.Copy(_frames, bigger, _frames.Length);
            for (var i = _frames.Length; i < bigger.Length; i++)
                bigger[i] = new Frame();
            _frames = bigger;
        }
        var frame = _frames[_depth++];
        frame.EventsStart = Events;
        frame.SamplesStart = Samples;
        frame.SampledStart = SampledTicks;
        frame.BlockedStart = BlockedTicks;
        frame.ChildEngineTicks = 0;
        return frame;
    }

    /// <summary>Removes the top frame; null when the stack is empty (events started mid-step).</summary>
    public Frame? Pop()
    {
        Epoch++;
        return _depth > 0 ? _frames[--_depth] : null;
    }

    /// <summary>
    /// Forgets every thread's frames: debug mode stopped, and the steps it saw begin will never be seen to end.
    /// Each thread starts a fresh tracker at its next event.
    /// </summary>
    public static void ResetAll()
    {
        lock (s_gate)
        {
            Interlocked.Increment(ref s_generation);
            Volatile.Write(ref s_all, []);
        }
    }

    /// <summary>Drops trackers of threads that have exited.</summary>
    public static void Prune()
    {
        lock (s_gate)
        {
            var all = s_all;
            if (all.All(t => t.Thread.IsAlive))
                return;
            foreach (var dead in all.Where(t => !t.Thread.IsAlive))
                dead._schedstat?.Dispose();
            Volatile.Write(ref s_all, all.Where(t => t.Thread.IsAlive).ToArray());
        }
    }

    private static ThreadTracker Register()
    {
        ThreadTracker tracker;
        lock (s_gate)
        {
            tracker = new ThreadTracker(Thread.CurrentThread, s_generation);
            Volatile.Write(ref s_all, [.. s_all, tracker]);
        }
        t_current = tracker;
        return tracker;
    }
}

/// <summary>A thread's scheduler figures and compilation counter (<see cref="RuntimeTime.JitOnThisThread"/>) read at <paramref name="At"/>.</summary>
internal sealed record ThreadBaseline(long At, SchedTimes Times, long Jit);
