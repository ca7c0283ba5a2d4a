using System.Collections.Concurrent;
using System.Diagnostics;
using System.Linq.Expressions;
using System.Reflection;
using AsyncLens.Tracking;

namespace AsyncLens.Agent;

/// <summary>
/// The ASP.NET Core requests in flight, without referencing ASP.NET Core: hosting writes
/// <c>Microsoft.AspNetCore.Hosting.BeginRequest</c> and <c>EndRequest</c> (their payload holds the HttpContext) to the
/// <c>Microsoft.AspNetCore</c> DiagnosticListener. Only those two are asked for (the activity hosting would start for a
/// subscriber of <c>HttpRequestIn</c> stays off). Per request: a number, a timestamp and the context kept until its end
/// (a dictionary add and remove); the method, path and route are read from the context only when a client asks.
/// </summary>
internal sealed class InFlightRequests : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>
{
    private const string ListenerName = "Microsoft.AspNetCore";
    private const string BeginRequest = "Microsoft.AspNetCore.Hosting.BeginRequest";
    private const string EndRequest = "Microsoft.AspNetCore.Hosting.EndRequest";

    /// <summary>More in flight than this are not kept (a bound on what a missed end could leave behind).</summary>
    public const int MaxKept = 100_000;

    private readonly ConcurrentDictionary<object, InFlight> _requests = new(ReferenceEqualityComparer.Instance);
    private long _count;
    private PayloadGetter? _getter;

    private InFlightRequests()
    {
    }

    /// <summary>True once ASP.NET Core's listener exists in the process (a web app).</summary>
    public bool SawAspNetCore { get; private set; }

    public static InFlightRequests Start()
    {
        var requests = new InFlightRequests();
        DiagnosticListener.AllListeners.Subscribe(requests);
        return requests;
    }

    /// <summary>The requests in flight now, oldest first.</summary>
    public List<InFlight> Snapshot() => [.. _requests.Values.OrderBy(r => r.Number)];

    public void OnNext(DiagnosticListener listener)
    {
        if (listener.Name != ListenerName)
            return;
        SawAspNetCore = true;
        listener.Subscribe(this, static name => name is BeginRequest or EndRequest);
    }

    public void OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Value is not { } payload || ThreadTracker.IsEngineThread)
            return;
        try
        {
            if (ContextOf(payload) is not { } context)
                return;
            if (value.Key == BeginRequest)
            {
                if (_requests.Count < MaxKept)
                    _requests[context] = new InFlight(Interlocked.Increment(ref _count), context, Stopwatch.GetTimestamp());
            }
            else if (value.Key == EndRequest)
                _requests.TryRemove(context, out _);
        }
        catch (Exception ex) when (ex is InvalidCastException or NullReferenceException or InvalidOperationException)
        {
        }
    }

    public void OnCompleted()
    {
    }

    public void OnError(Exception error)
    {
    }

    // The payload's httpContext property (named so for the anonymous object it once was), compiled once for its type.
    private object? ContextOf(object payload)
    {
        var type = payload.GetType();
        if (Volatile.Read(ref _getter) is not { } getter || getter.PayloadType != type)
        {
            Func<object, object?>? compiled = null;
            if (type.GetProperty("HttpContext", BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase) is { GetMethod: not null } property)
            {
                var parameter = Expression.Parameter(typeof(object));
                compiled = Expression.Lambda<Func<object, object?>>(
                    Expression.Convert(Expression.Property(Expression.Convert(parameter, type), property), typeof(object)), parameter).Compile();
            }
            getter = new PayloadGetter(type, compiled);
            Volatile.Write(ref _getter, getter);
        }
        return getter.Get?.Invoke(payload);
    }

    private sealed record PayloadGetter(Type PayloadType, Func<object, object?>? Get);
}

/// <summary>One request in flight: its number (in the order they began), its HttpContext, when it began (Stopwatch).</summary>
internal sealed record InFlight(long Number, object Context, long Began)
{
    public TimeSpan Age => Stopwatch.GetElapsedTime(Began);

    /// <summary>Its method, path (and query) and route, read from the context now (null: it ended meanwhile, or unreadable).</summary>
    public (string Method, string Path, string? Route)? Describe()
    {
        try
        {
            var request = Get(Context, "Request");
            if (request is null)
                return null;
            var method = Get(request, "Method")?.ToString() ?? "?";
            var path = (Get(request, "PathBase")?.ToString() ?? "") + (Get(request, "Path")?.ToString() ?? "") + (Get(request, "QueryString")?.ToString() ?? "");
            return (method, path, RouteOf(Tracking.RequestEndpoints.EndpointOf(Context)));
        }
        catch (Exception ex) when (ex is TargetInvocationException or MemberAccessException or InvalidOperationException or ObjectDisposedException or NullReferenceException)
        {
            return null;
        }
    }

    // An endpoint's route as written (RouteEndpoint.RoutePattern.RawText), or its display name.
    private static string? RouteOf(object? endpoint) =>
        endpoint is null ? null : Get(Get(endpoint, "RoutePattern"), "RawText") as string ?? Get(endpoint, "DisplayName") as string;

    private static object? Get(object? target, string property) =>
        target?.GetType().GetProperty(property, BindingFlags.Public | BindingFlags.Instance)?.GetValue(target);
}
