using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Storefront;

/// <summary>
/// The app's own count of its async calls, what the profiler's figures are checked against. Each counted method starts
/// with <c>using var call = Calls.Enter("Name")</c>. A call is counted when it first waits: the moment it suspends,
/// control leaves it without it having ended, and the runtime puts back on the thread it began on the very
/// ExecutionContext it began in, its caller's (this AsyncLocal's change handler sees that), or when it ends on another
/// thread, if that comes first. A call that
/// ends without waiting (a cache hit) is counted apart: no event of the runtime marks it. Its caller is the counted
/// call whose code called it (it flows with the context); the edge is counted once both have waited (a caller that
/// never waits is no call the runtime shows, as its callee's caller). An edge whose callee ended before its caller
/// first waited is also counted as early: nothing awaited the callee while it was pending (whatever took its task found
/// it completed and went on), so no runtime event says whose callee it was.
/// </summary>
internal static class Calls
{
    private static readonly AsyncLocal<Call?> s_current = new(OnChanged);
    private static readonly ConcurrentDictionary<string, int> s_waited = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, int> s_synchronous = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, int> s_edges = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, int> s_early = new(StringComparer.Ordinal);

    public static Call Enter(string name)
    {
        var call = new Call(name, s_current.Value, ExecutionContext.Capture());
        s_current.Value = call;
        return call;
    }

    /// <summary>The delegate of a <c>Task.Run</c>: a task of its own, counted as a call whether it waits or not.</summary>
    public static Call Run(string name)
    {
        var call = Enter(name);
        call.Waited();
        return call;
    }

    /// <summary>"waited N NAME", "synchronous N NAME", "edge N CALLER -> CALLEE", "early N CALLER -> CALLEE" lines, sorted.</summary>
    public static string Report()
    {
        var text = new StringBuilder();
        foreach (var (kind, counts) in new[] { ("waited", s_waited), ("synchronous", s_synchronous), ("edge", s_edges), ("early", s_early) })
        {
            foreach (var (key, n) in counts.OrderBy(p => p.Key, StringComparer.Ordinal))
                text.Append(CultureInfo.InvariantCulture, $"{kind} {n} {key}\n");
        }
        return text.ToString();
    }

    public static void Reset()
    {
        s_waited.Clear();
        s_synchronous.Clear();
        s_edges.Clear();
        s_early.Clear();
    }

    private static void OnChanged(AsyncLocalValueChangedArgs<Call?> change)
    {
        if (change.ThreadContextChanged && change.PreviousValue is { Ended: false } call && call.Suspended())
            call.Waited();
    }

    internal sealed class Call(string name, Call? caller, ExecutionContext? began) : IDisposable
    {
        private readonly List<string> _callees = [];
        private readonly int _thread = Environment.CurrentManagedThreadId;
        private bool _waited;

        public bool Ended { get; private set; }

        // Its context leaving a thread is not always its suspension. A callee's continuation run on a pool thread in its
        // context leaves that thread when it is done (traced: Tracing.SendAsync, still in its first step, then found
        // HttpClient's task completed and ended without parking: no box, the profile one call short of the app, CI),
        // and a continuation of another request run inline in its step leaves it for that request's context. Its
        // suspension is the one change that puts back, on the thread it began on, the context it began in (the async
        // method builder restoring its caller's as the call returns to it).
        public bool Suspended() => Environment.CurrentManagedThreadId == _thread && ReferenceEquals(ExecutionContext.Capture(), began);

        public void Waited()
        {
            lock (_callees)
            {
                if (_waited)
                    return;
                _waited = true;
                foreach (var callee in _callees)
                    Edge(callee);
                _callees.Clear();
            }
            s_waited.AddOrUpdate(name, 1, static (_, n) => n + 1);
            caller?.CalleeWaited(name);
        }

        private void CalleeWaited(string callee)
        {
            lock (_callees)
            {
                if (_waited)
                    Edge(callee);
                else
                    _callees.Add(callee);
            }
        }

        private void CalleeEnded(string callee)
        {
            lock (_callees)
            {
                if (!_waited)
                    s_early.AddOrUpdate($"{name} -> {callee}", 1, static (_, n) => n + 1);
            }
        }

        private void Edge(string callee) => s_edges.AddOrUpdate($"{name} -> {callee}", 1, static (_, n) => n + 1);

        public string Name => name;

        public void Dispose()
        {
            // Ending on another thread than it began on, it waited, whether or not its first thread has been told yet: that
            // thread learns it only as it puts its caller's context back, after the call suspended, and on a busy machine
            // the call can resume elsewhere and end first (a Redis reply in between): it was then counted synchronous
            // and not waited (CI: StoreAsync 14 waited + 1 synchronous, the profile 15). On its first thread it cannot
            // have resumed before that thread was told.
            if (Environment.CurrentManagedThreadId != _thread)
                Waited();
            Ended = true;
            bool waited;
            lock (_callees)
                waited = _waited;
            if (waited)
            {
                caller?.CalleeEnded(name);
                return;
            }
            s_synchronous.AddOrUpdate(name, 1, static (_, n) => n + 1);
        }
    }
}
