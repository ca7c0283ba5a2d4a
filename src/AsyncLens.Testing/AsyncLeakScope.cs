namespace AsyncLens.Testing;

/// <summary>
/// Fails a test that leaves async work behind: <c>using var scope = AsyncLeakScope.Begin();</c> at its start,
/// <c>await scope.VerifyAsync();</c> at its end. Work started in the scope, directly or through any chain of tasks,
/// timers and <c>Task.Run</c> it started, carries the scope in its <see cref="ExecutionContext"/> (an <c>AsyncLocal</c>),
/// so tests running in parallel are told apart. Work started with the flow suppressed belongs to no scope
/// (<see cref="AsyncLeakRun"/> reports it at the end of the run).
/// </summary>
public sealed class AsyncLeakScope : IDisposable
{
    private static readonly AsyncLocal<AsyncLeakScope?> s_current = new();

    private readonly List<(Task? Task, Exception Exception)> _faults = [];
    private readonly AsyncLeakScope? _outer;
    private int _exceptionsSeen;

    private AsyncLeakScope(AsyncLeakOptions options, AsyncLeakScope? outer)
    {
        Options = options;
        _outer = outer;
    }

    /// <summary>The scope the calling code runs in, if any.</summary>
    public static AsyncLeakScope? Current => s_current.Value;

    /// <summary>The options it checks with.</summary>
    public AsyncLeakOptions Options { get; }

    /// <summary>True once <see cref="Dispose"/> ended it.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>
    /// Starts a scope on the calling flow: work started from here on, in this method and what it calls, belongs to it.
    /// Switches on what it needs (the runtime's registry of pending tasks), with no environment variable.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The runtime lacks the internals AsyncLens reads.</exception>
    public static AsyncLeakScope Begin(AsyncLeakOptions? options = null)
    {
        options ??= new AsyncLeakOptions();
        options.Validate();
        AsyncLeakRun.Start();
        var scope = new AsyncLeakScope(options, s_current.Value);
        s_current.Value = scope;
        return scope;
    }

    /// <summary>
    /// Waits up to the grace period for the scope's work to finish, then throws <see cref="AsyncLeakException"/> listing
    /// each pending task (method, parked at, async stack, created at), armed timer and unobserved exception.
    /// </summary>
    public async Task VerifyAsync(CancellationToken cancellationToken = default)
    {
        if (await FindAsync(Runtime.TaskInternals.Current(), cancellationToken).ConfigureAwait(false) is { Count: > 0 } leaks)
            throw new AsyncLeakException(LeakMessage.Format(this, leaks), leaks);
    }

    /// <summary>The same check, blocking: for a framework hook that cannot await (it waits at most the grace period).</summary>
    public void Verify()
    {
        // Run off the caller's synchronization context (a hook on a single-threaded one would otherwise wait on itself),
        // and outside the scope: the check is not the test's work. Nor is the framework's task that calls it.
        var caller = Runtime.TaskInternals.Current();
        Task<IReadOnlyList<AsyncLeak>> check;
        using (ExecutionContext.SuppressFlow())
            check = Task.Run(() => FindAsync(caller, CancellationToken.None));
        var leaks = check.GetAwaiter().GetResult();
        if (leaks.Count > 0)
            throw new AsyncLeakException(LeakMessage.Format(this, leaks), leaks);
    }

    /// <summary>What the scope left behind after the grace period (empty: nothing), without throwing.</summary>
    public Task<IReadOnlyList<AsyncLeak>> FindAsync(CancellationToken cancellationToken = default) => FindAsync(Runtime.TaskInternals.Current(), cancellationToken);

    private async Task<IReadOnlyList<AsyncLeak>> FindAsync(Task? checking, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + Options.GracePeriod;
        while (true)
        {
            var thrown = Volatile.Read(ref _exceptionsSeen);
            CollectFaults();
            // Work the test may leave running is still waited for: it may yet fault within the grace period.
            var leaks = LeakFinder.Find(this, checking, out var allowed);
            // A task that threw between the collection and the look at pending work is neither: look again.
            if (leaks.Count == 0 && Volatile.Read(ref _exceptionsSeen) != thrown)
                continue;
            if (leaks.Count == 0 && allowed == 0 || DateTime.UtcNow >= deadline)
                return leaks;
            await Task.Delay(LeakFinder.PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ends the scope: work started after this by the same flow no longer belongs to it, but to the scope that was current
    /// when it began (a test using a scope of its own inside an adapter's: the adapter's checks the rest of the test).
    /// </summary>
    public void Dispose()
    {
        IsDisposed = true;
        if (ReferenceEquals(s_current.Value, this))
            s_current.Value = _outer is { IsDisposed: false } ? _outer : null;
    }

    /// <summary>Who started the work that runs in <paramref name="context"/>: the scope it carries.</summary>
    internal static AsyncLeakScope? In(ExecutionContext context)
    {
        t_read = null;
        ExecutionContext.Run(context, static _ => t_read = s_current.Value, null);
        var scope = t_read;
        t_read = null;
        return scope;
    }

    [ThreadStatic] private static AsyncLeakScope? t_read;

    internal void OnExceptionThrown() => Interlocked.Increment(ref _exceptionsSeen);

    internal void OnUnobserved(Task? task, Exception exception)
    {
        lock (_faults)
            _faults.Add((task, exception));
    }

    internal List<(Task? Task, Exception Exception)> Faults()
    {
        lock (_faults)
            return [.. _faults];
    }

    // A faulted task nobody observed is known when the GC finds it (TaskScheduler.UnobservedTaskException): collect only
    // when code in this scope threw at all, so a healthy test pays nothing.
    private void CollectFaults()
    {
        if (Volatile.Read(ref _exceptionsSeen) == 0)
            return;
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }
}
