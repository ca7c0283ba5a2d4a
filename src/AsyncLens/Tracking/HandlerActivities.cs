using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;

namespace AsyncLens.Tracking;

/// <summary>
/// Which handler of the user's a framework runs on a thread, as it happens, from the activities frameworks start on the
/// invoking thread just before they call it and stop after. A synchronous handler runs inside a step of the framework's
/// dispatch loop and leaves no box and no event of its own: this is how a slow stretch of the framework's learns that
/// its time went to the handler (<see cref="RequestEndpoints"/>). Two shapes:
/// <list type="bullet">
/// <item>SignalR (ASP.NET Core 9+, source <c>Microsoft.AspNetCore.SignalR.Server</c>): tags <c>rpc.service</c>, the hub's
/// name, and <c>rpc.method</c>.</item>
/// <item>A message or job framework's own source (not the platform's <c>Microsoft.*</c>/<c>System.*</c> ones): an
/// activity with OpenTelemetry's <c>code.namespace</c> and <c>code.function</c> tags, or a tag whose key says it holds a
/// type, a consumer, a handler or a job and whose value names a class of the app's (MassTransit's
/// <c>messaging.masstransit.consumer_type</c>, the consumer's name; Quartz's <c>quartz.job.type</c>, the job's
/// assembly-qualified name); the handler is then that class's one method that implements an interface
/// (<c>IConsumer&lt;T&gt;.Consume</c>, <c>IJob.Execute</c>).</item>
/// </list>
/// Listening makes those frameworks create their activities (one or a few per message or job) while debug mode is on.
/// </summary>
internal static class HandlerActivities
{
    private const string SignalRSource = "Microsoft.AspNetCore.SignalR.Server";
    private const string HubTypeName = "Microsoft.AspNetCore.SignalR.Hub";

    private static readonly ConcurrentDictionary<(string Hub, string Method), MethodInfo?> s_hubMethods = new();
    private static readonly ConcurrentDictionary<Type, MethodInfo?> s_handlers = new();
    private static UserTypes? s_userTypes;
    private static int s_assemblyLoads;

    static HandlerActivities() => AppDomain.CurrentDomain.AssemblyLoad += static (_, _) => Interlocked.Increment(ref s_assemblyLoads);

    /// <summary>
    /// Calls <paramref name="onHubStarted"/>/<paramref name="onHubStopped"/>(method, now) as a SignalR hub method begins and
    /// ends on the calling thread, and <paramref name="onHandlerStarted"/>/<paramref name="onHandlerStopped"/>(handler,
    /// activity, now) for another framework's handler: the activity is that run of it, the same object at its start and
    /// at its end, which may be on another thread (an async handler ends where its last step ran).
    /// </summary>
    public static IDisposable Listen(Action<object, long> onHubStarted, Action<MethodInfo, long> onHubStopped, Action<MethodInfo, Activity, long> onHandlerStarted, Action<MethodInfo, Activity, long> onHandlerStopped)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = static source => source.Name == SignalRSource || !IsPlatformSource(source.Name),
            // Frameworks add their tags after creating the activity (MassTransit, Quartz): each is created, and read as it starts.
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStarted = activity => Tell(activity, onHubStarted, onHandlerStarted),
            ActivityStopped = activity => Tell(activity, onHubStopped, onHandlerStopped),
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    // An activity started or stopped on the app's thread: a hub method's (SignalR's source) or a handler its tags name.
    private static void Tell(Activity activity, Action<MethodInfo, long> onHub, Action<MethodInfo, Activity, long> onHandler)
    {
        if (ThreadTracker.IsEngineThread)
            return;
        if (activity.Source.Name == SignalRSource)
        {
            if (HubMethodOf(activity) is { } hubMethod)
                onHub(hubMethod, DateTime.UtcNow.Ticks);
        }
        else if (HandlerNamedIn(activity.TagObjects) is { } handler)
            onHandler(handler, activity, DateTime.UtcNow.Ticks);
    }

    // The platform's sources (ASP.NET Core's requests, HttpClient's calls) name no handler of the user's, and listening
    // to them would make them do more on every request.
    private static bool IsPlatformSource(string name) =>
        name.StartsWith("Microsoft.", StringComparison.Ordinal) || name.StartsWith("System.", StringComparison.Ordinal) || name.Length == 0;

    /// <summary>
    /// The handler an activity's tags name: OpenTelemetry's <c>code.namespace</c> (the class) with <c>code.function</c>
    /// (its method); else the first tag whose key says it holds a type, a consumer, a handler or a job and whose value
    /// names a class of the app's with one handler method (see <see cref="HandlerOf"/>). Other tags (a database's name,
    /// a queue's) may happen to spell a class's name: they name nothing.
    /// </summary>
    public static MethodInfo? HandlerNamedIn(IEnumerable<KeyValuePair<string, object?>>? tags)
    {
        if (tags is null)
            return null;
        string? codeNamespace = null, codeFunction = null;
        MethodInfo? named = null;
        foreach (var (key, value) in tags)
        {
            if (key == "code.namespace")
                codeNamespace = value as string;
            else if (key == "code.function")
                codeFunction = value as string;
            else if (named is null && NamesAHandler(key))
            {
                var type = value switch
                {
                    Type t => Symbols.CodeOrigin.IsAppCode(t.Assembly) ? t : null,
                    string name when TypeNameIn(name) is { } typeName => UserTypes.Current().Named(typeName),
                    _ => null,
                };
                if (type is not null)
                    named = HandlerOf(type);
            }
        }
        if (codeNamespace is not null && codeFunction is not null && TypeNameIn(codeNamespace) is { } className
            && UserTypes.Current().Named(className) is { } codeType && Single(codeType, codeFunction) is { } function)
            return function;
        return named;
    }

    private static bool NamesAHandler(string key) =>
        key.EndsWith("type", StringComparison.OrdinalIgnoreCase) || key.Contains("consumer", StringComparison.OrdinalIgnoreCase)
        || key.Contains("handler", StringComparison.OrdinalIgnoreCase) || key.Contains("job", StringComparison.OrdinalIgnoreCase);

    private static MethodInfo? Single(Type type, string name, BindingFlags flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static)
    {
        try
        {
            return type.GetMethod(name, flags);
        }
        catch (AmbiguousMatchException)
        {
            return null;
        }
    }

    /// <summary>
    /// The method a framework calls on a handler class: its one public instance method that implements an interface
    /// (the System interfaces' aside: IDisposable, a record's IEquatable); null if it has none or several (a consumer of two messages).
    /// </summary>
    public static MethodInfo? HandlerOf(Type type) => s_handlers.GetOrAdd(type, static t =>
    {
        if (t.IsInterface || t.IsAbstract || t.IsGenericTypeDefinition)
            return null;
        MethodInfo? found = null;
        foreach (var contract in t.GetInterfaces())
        {
            if (contract.Namespace is { } ns && (ns == "System" || ns.StartsWith("System.", StringComparison.Ordinal)))
                continue;
            InterfaceMapping map;
            try
            {
                map = t.GetInterfaceMap(contract);
            }
            catch (ArgumentException)
            {
                continue;
            }
            foreach (var method in map.TargetMethods)
            {
                if (method.DeclaringType is not { } declaring || !Symbols.CodeOrigin.IsAppCode(declaring.Assembly) || method.IsSpecialName || method == found)
                    continue;
                if (found is not null)
                    return null;
                found = method;
            }
        }
        return found;
    });

    // The type name a tag's value may be: a name, a full name, or an assembly-qualified one ("CleanupJob, JobsApp").
    private static string? TypeNameIn(string value)
    {
        var comma = value.IndexOf(',');
        var name = comma < 0 ? value : value[..comma];
        if (name.Length is 0 or > 512 || !(char.IsLetter(name[0]) || name[0] == '_'))
            return null;
        foreach (var c in name)
        {
            if (!(char.IsLetterOrDigit(c) || c is '.' or '_' or '+' or '`'))
                return null;
        }
        return name;
    }

    // The hub's method the activity runs: a hub class of the app's whose name (or full name) is rpc.service, and its
    // public method named rpc.method (SignalR does not allow overloads of a hub method).
    private static MethodInfo? HubMethodOf(Activity activity)
    {
        if (activity.GetTagItem("rpc.service") is not string hub || activity.GetTagItem("rpc.method") is not string name)
            return null;
        return s_hubMethods.GetOrAdd((hub, name), static key =>
        {
            if (UserTypes.Current().Named(key.Hub) is not { } type || !IsHub(type))
                return null;
            return Single(type, key.Method, BindingFlags.Public | BindingFlags.Instance);
        });
    }

    private static bool IsHub(Type type)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (t.FullName == HubTypeName || t.IsGenericType && t.GetGenericTypeDefinition().FullName == HubTypeName + "`1")
                return true;
        }
        return false;
    }

    // The app's classes by name and by full name (a nested one also as Outer.Inner), indexed again only after an assembly
    // loads: a tag's value is looked up, not searched for.
    private sealed class UserTypes
    {
        private readonly int _loads;
        private readonly Dictionary<string, Type?> _byName = new(StringComparer.Ordinal);

        private UserTypes(int loads)
        {
            _loads = loads;
            foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
            {
                if (assembly.IsDynamic || !Symbols.CodeOrigin.IsAppCode(assembly))
                    continue;
                foreach (var type in Symbols.CallSites.Types(assembly))
                {
                    if (type.IsInterface || type.Name.Contains('<'))
                        continue;
                    Add(type.Name, type);
                    if (type.FullName is { } full)
                    {
                        Add(full, type);
                        Add(full.Replace('+', '.'), type);
                    }
                }
            }
        }

        public static UserTypes Current()
        {
            var loads = Volatile.Read(ref s_assemblyLoads);
            if (Volatile.Read(ref s_userTypes) is { } known && known._loads == loads)
                return known;
            var index = new UserTypes(loads);
            Volatile.Write(ref s_userTypes, index);
            return index;
        }

        public Type? Named(string name) => _byName.TryGetValue(name, out var type) ? type : null;

        // Two classes of one short name: the name names neither.
        private void Add(string name, Type type)
        {
            if (!_byName.TryAdd(name, type) && _byName[name] != type)
                _byName[name] = null;
        }
    }
}
