using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;

namespace AsyncLens.Tracking;

/// <summary>
/// Which SignalR hub method runs on a thread, as it happens: ASP.NET Core's SignalR (9+) starts an activity of its
/// <c>Microsoft.AspNetCore.SignalR.Server</c> source on the invoking thread just before a hub method runs, and stops it
/// as the method ends (tags <c>rpc.service</c>, the hub's name, and <c>rpc.method</c>). Hub methods are not endpoints:
/// a synchronous one runs inside a step of SignalR's dispatch loop and leaves no box and no event of its own, and this
/// is how a slow stretch of SignalR's learns that its time went to the hub method (<see cref="RequestEndpoints"/>).
/// Listening makes SignalR create one Activity per hub method call while debug mode is on.
/// </summary>
internal static class HubMethods
{
    private const string SourceName = "Microsoft.AspNetCore.SignalR.Server";
    private const string HubTypeName = "Microsoft.AspNetCore.SignalR.Hub";

    private static readonly ConcurrentDictionary<(string Hub, string Method), MethodInfo?> s_methods = new();

    public static IDisposable Listen(Action<object, long> onStarted, Action<MethodInfo, long> onStopped)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == SourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStarted = activity =>
            {
                if (!ThreadTracker.IsEngineThread && MethodOf(activity) is { } method)
                    onStarted(method, DateTime.UtcNow.Ticks);
            },
            ActivityStopped = activity =>
            {
                if (!ThreadTracker.IsEngineThread && MethodOf(activity) is { } method)
                    onStopped(method, DateTime.UtcNow.Ticks);
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    // The hub's method the activity runs: a hub class of the app's whose name (or full name) is rpc.service, and its
    // public method named rpc.method (SignalR does not allow overloads of a hub method).
    private static MethodInfo? MethodOf(Activity activity)
    {
        if (activity.GetTagItem("rpc.service") is not string hub || activity.GetTagItem("rpc.method") is not string name)
            return null;
        return s_methods.GetOrAdd((hub, name), static key =>
        {
            foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
            {
                if (assembly.IsDynamic || !Symbols.CodeOrigin.IsUserCode(assembly))
                    continue;
                Type[] types;
                try
                {
                    types = assembly.GetTypes();
                }
                catch (ReflectionTypeLoadException ex)
                {
                    types = [.. ex.Types.OfType<Type>()];
                }
                foreach (var type in types)
                {
                    if ((type.Name == key.Hub || type.FullName == key.Hub) && IsHub(type))
                    {
                        try
                        {
                            return type.GetMethod(key.Method, BindingFlags.Public | BindingFlags.Instance);
                        }
                        catch (AmbiguousMatchException)
                        {
                            return null;
                        }
                    }
                }
            }
            return null;
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
}
