using System.Reflection;
using AsyncLens.Inventory;
using AsyncLens.Reporting;
using AsyncLens.Reporting.Dumps;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;

namespace AsyncLens.Testing;

/// <summary>
/// What one scope left behind: the pending tasks whose captured context carries the scope (as async stacks, one per
/// chain), the armed timers made in it, and the unobserved exceptions the GC found for it; less what the options ignore.
/// </summary>
internal static class LeakFinder
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    /// <param name="scope">The scope.</param>
    /// <param name="allowed">How many pending tasks and timers it was allowed to leave (<see cref="AsyncLeakOptions.AllowPendingReason"/>).</param>
    /// <param name="checking">The delegate task running the check's caller (a framework's worker), not a leak.</param>
    public static List<AsyncLeak> Find(AsyncLeakScope scope, Task? checking, out int allowed)
    {
        var owners = new Dictionary<ExecutionContext, AsyncLeakScope?>(ReferenceEqualityComparer.Instance);
        AsyncLeakScope? Owner(ExecutionContext context)
        {
            if (!owners.TryGetValue(context, out var owner))
                owners[context] = owner = AsyncLeakScope.In(context);
            return owner;
        }
        var leaks = new List<AsyncLeak>();
        var mine = AsyncDebug.Inventory().RegistryCopy().FindAll(t => !t.IsCompleted && t != checking && CapturedContexts.Of(t) is { } c && Owner(c) == scope);
        if (mine.Count > 0)
            leaks.AddRange(Pending(mine, userCodeOnly: false));
        foreach (var timer in CapturedContexts.Timers())
        {
            if (Owner(timer.Context) == scope && !IsPackage(timer.Callback.Method.DeclaringType))
                leaks.Add(Timer(timer));
        }
        allowed = 0;
        if (scope.Options.AllowPendingReason is not null)
            allowed = leaks.RemoveAll(l => l.Kind != AsyncLeakKind.UnobservedException);
        leaks.AddRange(scope.Faults().ConvertAll(f => Fault(f.Task, f.Exception)));
        return leaks.FindAll(l => !Ignored(scope.Options, l));
    }

    /// <summary>One leak per distinct async stack through the scope's pending tasks, less the chain that is checking now.</summary>
    /// <summary>
    /// Pending work no scope owns (its context carries none: the flow was suppressed, or no test started it) and that was
    /// not pending already when the first scope began, nor found by an earlier call (<paramref name="before"/>, to which
    /// this adds what it finds: reported once): async stacks rooted in the program's own code only (the runtime's and
    /// packages' own background work is not the tests').
    /// </summary>
    public static List<AsyncLeak> Unclaimed(HashSet<int> before)
    {
        var owners = new Dictionary<ExecutionContext, AsyncLeakScope?>(ReferenceEqualityComparer.Instance);
        var unclaimed = AsyncDebug.Inventory().RegistryCopy().FindAll(t =>
        {
            if (t.IsCompleted || before.Contains(t.Id))
                return false;
            if (CapturedContexts.Of(t) is not { } context)
                return true;
            if (!owners.TryGetValue(context, out var owner))
                owners[context] = owner = AsyncLeakScope.In(context);
            return owner is null;
        });
        before.UnionWith(unclaimed.Select(t => t.Id));
        return unclaimed.Count == 0 ? [] : [.. Pending(unclaimed, userCodeOnly: true)];
    }

    private static IEnumerable<AsyncLeak> Pending(List<Task> mine, bool userCodeOnly)
    {
        var graph = TaskGraph.Build(mine);
        var checking = Checking(graph);
        var sites = new CreationSites(AsyncDebug.Inventory().Find);
        var targets = new HashSet<object>(mine, ReferenceEqualityComparer.Instance);
        foreach (var stack in StacksDump.Coalesce(graph, new Subtrees()))
        {
            var leaf = stack.Leaves[0];
            var chain = TaskGraph.AwaitedByChain(leaf);
            var root = chain.Count > 0 ? chain[^1] : leaf;
            if (checking.Contains(leaf) || chain.Exists(checking.Contains) || !targets.Contains(leaf.Target) && !chain.Exists(n => targets.Contains(n.Target))
                || IsTestFramework(root) || userCodeOnly && !IsUserCode(root) || IsPackageWork(leaf, chain))
                continue;
            var text = new NodeTextCache().Of(leaf);
            yield return new AsyncLeak
            {
                Kind = AsyncLeakKind.PendingTask,
                Method = text.Title,
                At = text.At,
                CreatedAt = CreatedAt(root, sites),
                AsyncStack = [.. stack.Frames.Select(f => f.ToString()), stack.Awaiting],
            };
        }
    }

    // The test (or the framework's hook) checking now runs in the scope too: an async method running a step, and every
    // method awaiting it, are the check itself, not a leak.
    private static HashSet<TaskNode> Checking(TaskGraph graph)
    {
        var checking = new HashSet<TaskNode>();
        var queue = new Queue<TaskNode>(graph.Nodes.Where(n => n.Kind == NodeKind.AsyncMethod && n.State == AsyncState.Running));
        while (queue.TryDequeue(out var node))
        {
            if (!checking.Add(node))
                continue;
            foreach (var awaiter in node.AwaitedBy)
                queue.Enqueue(awaiter);
        }
        return checking;
    }

    // The test framework's own workers (xunit v2's, started lazily from whichever test's flow needed one) are not the test's.
    private static readonly string[] s_frameworks = ["xunit.", "nunit.", "Microsoft.VisualStudio.TestPlatform.", "Microsoft.TestPlatform.", "MSTest.", "Microsoft.Testing."];

    private static bool IsTestFramework(TaskNode root) =>
        (root.Box?.StateMachineType ?? root.DelegateMethod?.DeclaringType)?.Assembly.GetName().Name is { } name
        && Array.Exists(s_frameworks, f => name.StartsWith(f, StringComparison.OrdinalIgnoreCase));

    // A package's own background work (a shared client's read loop, heartbeat or pool timer) carries the context of
    // whichever test first used the client, often through a static or a Lazy: a chain with no frame of the program's own
    // code and one of a package's is the package's, not the test's. The program's code in it (a BackgroundService's
    // ExecuteAsync under the host's loop) makes it the test's again.
    private static bool IsPackageWork(TaskNode leaf, List<TaskNode> chain)
    {
        var kinds = chain.Prepend(leaf).Select(n => Code(n)?.Assembly).OfType<Assembly>().Select(CodeOrigin.Kind).ToList();
        return kinds.Contains(CodeKind.Package) && !kinds.Contains(CodeKind.User);
    }

    private static bool IsPackage(Type? type) => type is not null && CodeOrigin.Kind(type.Assembly) == CodeKind.Package;

    private static Type? Code(TaskNode node) => node.Box?.StateMachineType ?? node.DelegateMethod?.DeclaringType;

    private static bool IsUserCode(TaskNode root) =>
        (root.Box?.StateMachineType ?? root.DelegateMethod?.DeclaringType)?.Assembly is { } assembly && CodeOrigin.IsUserCode(assembly);

    private static SourceLine? CreatedAt(TaskNode root, CreationSites sites)
    {
        var code = root.Box?.Symbols.Kickoff ?? (MethodBase?)root.DelegateMethod;
        return root.Target is Task task ? sites.Resolve(null, code, RawAsyncStack.Capture(task)) : sites.Resolve(null, code, null);
    }

    private static AsyncLeak Timer(ArmedTimer timer)
    {
        var method = timer.Callback.Method;
        return new AsyncLeak
        {
            Kind = AsyncLeakKind.Timer,
            Method = MethodNames.Format(method),
            At = NodeTexts.DelegateLine(method),
            Period = timer.PeriodMs is 0 or uint.MaxValue ? null : TimeSpan.FromMilliseconds(timer.PeriodMs),
        };
    }

    public static AsyncLeak Fault(Task? task, Exception exception)
    {
        var code = (task is null ? null : BoxInfo.Of(task)?.Symbols.Kickoff ?? (MethodBase?)TaskInternals.Action(task)?.Method) ?? Thrower(exception);
        var sites = new CreationSites(AsyncDebug.Inventory().Find);
        return new AsyncLeak
        {
            Kind = AsyncLeakKind.UnobservedException,
            Method = code is null ? "(a task)" : MethodNames.Format(code),
            CreatedAt = code is null ? null : sites.Resolve(null, code, null),
            Exception = exception,
        };
    }

    // An async method that threw before its first await never had a box: its task is a plain one, and only the
    // exception's stack (its MoveNext) says which method it was.
    private static MethodBase? Thrower(Exception exception)
    {
        foreach (var frame in new System.Diagnostics.StackTrace(exception, false).GetFrames())
        {
            if (frame.GetMethod() is { Name: "MoveNext", DeclaringType: { } type } && MethodNames.IsStateMachine(type))
                return MethodNames.Kickoff(type);
        }
        return null;
    }

    private static bool Ignored(AsyncLeakOptions options, AsyncLeak leak)
    {
        if (options.Ignore?.Invoke(leak) is true)
            return true;
        if (options.IgnoreMethods.Count == 0 || leak.Kind == AsyncLeakKind.UnobservedException)
            return false;
        var names = leak.AsyncStack.Count > 0 ? leak.AsyncStack : [leak.Method];
        return names.Any(frame => options.IgnoreMethods.Any(m => Names(frame, m)));
    }

    // "Poller.RunAsync" names "App.Poller.RunAsync(CancellationToken) at /src/Poller.cs:12".
    private static bool Names(string frame, string method)
    {
        var paren = frame.IndexOf('(', StringComparison.Ordinal);
        var name = paren < 0 ? frame : frame[..paren];
        return name == method || name.EndsWith("." + method, StringComparison.Ordinal);
    }
}
