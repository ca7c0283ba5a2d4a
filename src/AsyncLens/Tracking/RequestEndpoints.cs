using System.Collections;
using System.Diagnostics;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace AsyncLens.Tracking;

/// <summary>
/// Which ASP.NET Core endpoint each request matched, as it happens, without referencing ASP.NET Core: routing writes
/// <c>Microsoft.AspNetCore.Routing.EndpointMatched</c> (its HttpContext) to the <c>Microsoft.AspNetCore</c>
/// DiagnosticListener on the request's thread, just before the endpoint's handler runs there, inline. A handler whose
/// awaits all complete at once leaves no box and no event of its own: this is how a slow stretch of Kestrel's learns
/// that its time went to the handler. Only that one event is asked for (the listener's other events, and the
/// activity ASP.NET Core would start for a subscriber of <c>HttpRequestIn</c>, stay off). The endpoint object is
/// kept; its handler's MethodInfo (endpoint metadata) is read only for a report.
/// </summary>
internal sealed class RequestEndpoints : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
{
    private const string ListenerName = "Microsoft.AspNetCore";
    private const string EndpointMatched = "Microsoft.AspNetCore.Routing.EndpointMatched";

    // Hosting's events as a request begins and ends, on the thread that begins or ends it (its "deprecated" ones: no
    // activity is started for them, unlike HttpRequestIn's).
    private const string BeginRequest = "Microsoft.AspNetCore.Hosting.BeginRequest";
    private const string EndRequest = "Microsoft.AspNetCore.Hosting.EndRequest";

    private static readonly ConditionalWeakTable<object, StrongBox<MethodInfo?>> s_handlers = new();

    private readonly Action<object, long> _onMatched;
    private readonly (Action<long> Start, Action<long> Stop)? _requests;
    private readonly List<IDisposable> _subscriptions = [];
    private static Getter? s_getter;
    private int _disposed;

    private RequestEndpoints(Action<object, long> onMatched, (Action<long>, Action<long>)? requests) => (_onMatched, _requests) = (onMatched, requests);

    /// <summary>
    /// Calls <paramref name="onMatched"/>(endpoint, now) on each request's thread as routing matches it, and as SignalR
    /// begins a hub method (the endpoint is then the hub's MethodInfo); <paramref name="onHubMethodEnd"/>(method, now)
    /// as that hub method ends; <paramref name="onHandlerStart"/>/<paramref name="onHandlerEnd"/> as another framework's
    /// handler (a message consumer, a job: <see cref="HandlerActivities"/>) begins and ends; and, when given,
    /// <paramref name="requests"/>' Start(now) and Stop(now) as ASP.NET Core begins and ends a request on the thread (for
    /// debug mode on the async events alone, which has no TPL listener to take them from hosting's EventSource).
    /// </summary>
    public static RequestEndpoints Start(Action<object, long> onMatched, Action<MethodInfo, long> onHubMethodEnd, Action<MethodInfo, Activity, long> onHandlerStart, Action<MethodInfo, Activity, long> onHandlerEnd,
        (Action<long> Start, Action<long> Stop)? requests = null)
    {
        var endpoints = new RequestEndpoints(onMatched, requests);
        lock (endpoints._subscriptions)
        {
            endpoints._subscriptions.Add(DiagnosticListener.AllListeners.Subscribe(endpoints));
            endpoints._subscriptions.Add(HandlerActivities.Listen(onMatched, onHubMethodEnd, onHandlerStart, onHandlerEnd));
        }
        return endpoints;
    }

    /// <summary>
    /// The method an endpoint runs: a minimal API handler's MethodInfo in its metadata, an MVC action's
    /// (<c>ControllerActionDescriptor.MethodInfo</c>) or a gRPC service's method; null for anything else.
    /// </summary>
    public static MethodInfo? HandlerOf(object? endpoint)
    {
        if (endpoint is null)
            return null;
        if (endpoint is MethodInfo hubMethod)
            return hubMethod;
        return s_handlers.GetValue(endpoint, static e => new StrongBox<MethodInfo?>(Read(e))).Value;

        static MethodInfo? Read(object endpoint)
        {
            try
            {
                if (endpoint.GetType().GetProperty("Metadata")?.GetValue(endpoint) is not IEnumerable metadata)
                    return null;
                MethodInfo? delegateMethod = null;
                foreach (var item in metadata)
                {
                    // A package's own request delegate (FastEndpoints maps every endpoint to one lambda of its own) is
                    // the handler only when nothing else in the metadata names the app's.
                    if (item is MethodInfo method)
                    {
                        if (Symbols.CodeOrigin.IsAppCode(method.Module.Assembly))
                            return method;
                        delegateMethod ??= method;
                    }
                    if (item?.GetType().GetProperty("MethodInfo")?.GetValue(item) is MethodInfo action)
                        return action;
                    if ((GrpcHandler(item) ?? HandlerClassMethod(item)) is { } handler)
                        return handler;
                }
                return delegateMethod;
            }
            catch (Exception ex) when (ex is TargetInvocationException or MemberAccessException or InvalidOperationException)
            {
            }
            return null;
        }
    }

    // A gRPC service method (Grpc.AspNetCore): its endpoint's GrpcMethodMetadata names the service type and the method
    // (IMethod.Name, as in the .proto); the handler is the service class's public method of that name, the override of
    // the generated base's.
    private static MethodInfo? GrpcHandler(object? item)
    {
        if (item?.GetType() is not { FullName: "Grpc.AspNetCore.Server.GrpcMethodMetadata" } type
            || type.GetProperty("ServiceType")?.GetValue(item) is not Type service
            || type.GetProperty("Method")?.GetValue(item) is not { } method
            || method.GetType().GetProperty("Name")?.GetValue(method) is not string name)
            return null;
        try
        {
            return service.GetMethod(name, BindingFlags.Public | BindingFlags.Instance);
        }
        catch (AmbiguousMatchException)
        {
            return null;
        }
    }

    // An endpoint served by a class of the app's that a package's delegate runs (FastEndpoints: its EndpointDefinition's
    // EndpointType, a class deriving from Endpoint<TRequest>): the handler is the class's own override that returns a
    // task (HandleAsync or ExecuteAsync; with several, HandleAsync: the others are hooks around it).
    private static MethodInfo? HandlerClassMethod(object? item)
    {
        if (item?.GetType().GetProperty("EndpointType")?.GetValue(item) is not Type type || !Symbols.CodeOrigin.IsAppCode(type.Assembly))
            return null;
        var overrides = type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => m.GetBaseDefinition() != m && typeof(System.Threading.Tasks.Task).IsAssignableFrom(m.ReturnType))
            .ToList();
        return overrides.Count == 1 ? overrides[0] : overrides.Find(m => m.Name == "HandleAsync") ?? overrides.Find(m => m.Name == "ExecuteAsync");
    }

    public void OnNext(DiagnosticListener listener)
    {
        if (listener.Name != ListenerName || Volatile.Read(ref _disposed) != 0)
            return;
        Func<string, object?, object?, bool> wanted = _requests is null
            ? static (name, _, _) => name == EndpointMatched
            : static (name, _, _) => name is EndpointMatched or BeginRequest or EndRequest;
        lock (_subscriptions)
            _subscriptions.Add(listener.Subscribe(this, wanted));
    }

    public void OnNext(KeyValuePair<string, object?> value)
    {
        if (_requests is ({ } start, { } stop) && value.Key is BeginRequest or EndRequest)
        {
            if (!ThreadTracker.IsEngineThread)
                (value.Key == BeginRequest ? start : stop)(DateTime.UtcNow.Ticks);
            return;
        }
        if (value.Key != EndpointMatched || value.Value is not { } context || ThreadTracker.IsEngineThread)
            return;
        try
        {
            if (EndpointOf(context) is { } endpoint)
                _onMatched(endpoint, DateTime.UtcNow.Ticks);
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

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        lock (_subscriptions)
        {
            foreach (var subscription in _subscriptions)
                subscription.Dispose();
            _subscriptions.Clear();
        }
    }

    /// <summary>The endpoint an HttpContext matched (<c>HttpContext.GetEndpoint()</c>), null before routing or if none.</summary>
    public static object? EndpointOf(object httpContext) => GetterFor(httpContext) is { } get ? get(httpContext) : null;

    /// <summary>
    /// The endpoint of the request a state machine serves, read from its fields that hold an HttpContext (a middleware's
    /// <c>InvokeAsync(HttpContext)</c>), or an object with an <c>HttpContext</c> property (gRPC's
    /// <c>HttpContextServerCallContext</c>): for a step of the framework's that ran a handler after it parked, where the
    /// match itself happened in an earlier step.
    /// </summary>
    public static object? EndpointHeldBy(object stateMachine)
    {
        foreach (var (field, property) in ContextHolders(stateMachine.GetType()))
        {
            try
            {
                var value = field.GetValue(stateMachine);
                if (property is not null && value is not null)
                    value = property.GetValue(value);
                if (value is not null && EndpointOf(value) is { } endpoint)
                    return endpoint;
            }
            catch (Exception ex) when (ex is InvalidOperationException or TargetInvocationException or NullReferenceException)
            {
                // The request ended meanwhile: ASP.NET Core let go of its HttpContext (ObjectDisposedException), or read
                // from another thread while it changes.
            }
        }
        return null;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, (FieldInfo, PropertyInfo?)[]> s_holders = new();

    // A state machine's fields typed HttpContext, then those whose type has an HttpContext property.
    private static (FieldInfo Field, PropertyInfo? Property)[] ContextHolders(Type stateMachine) => s_holders.GetOrAdd(stateMachine, static t =>
    {
        var fields = t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        var direct = fields.Where(f => IsHttpContext(f.FieldType)).Select(f => (f, (PropertyInfo?)null));
        var viaProperty = fields.Where(f => !f.FieldType.IsValueType && !IsHttpContext(f.FieldType))
            .Select(f => (f, f.FieldType.GetProperty("HttpContext", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)))
            .Where(p => p.Item2 is { GetMethod: not null } property && property.GetIndexParameters().Length == 0 && IsHttpContext(property.PropertyType));
        return [.. direct, .. viaProperty];
    });

    /// <summary>Whether <paramref name="type"/> is ASP.NET Core's HttpContext or derives from it.</summary>
    public static bool IsHttpContext(Type type)
    {
        for (var t = type; t is not null; t = t.BaseType)
        {
            if (t.FullName == "Microsoft.AspNetCore.Http.HttpContext")
                return true;
        }
        return false;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, FieldInfo[]> s_contextFields = new();

    /// <summary>A state machine's fields that may hold an HttpContext (typed HttpContext or a subclass of it).</summary>
    public static FieldInfo[] ContextFields(Type stateMachine) => s_contextFields.GetOrAdd(stateMachine, static t =>
        [.. t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Where(f => IsHttpContext(f.FieldType))]);

    // HttpContext.GetEndpoint() (EndpointHttpContextExtensions, next to HttpContext in Http.Abstractions), compiled
    // once for the app's HttpContext type.
    private static Func<object, object?>? GetterFor(object context)
    {
        var type = context.GetType();
        if (Volatile.Read(ref s_getter) is { } known && known.ContextType == type)
            return known.GetEndpoint;
        var baseType = type;
        while (baseType is not null && baseType.FullName != "Microsoft.AspNetCore.Http.HttpContext")
            baseType = baseType.BaseType;
        var getEndpoint = baseType?.Assembly.GetType("Microsoft.AspNetCore.Http.EndpointHttpContextExtensions")
            ?.GetMethod("GetEndpoint", BindingFlags.Public | BindingFlags.Static, [baseType]);
        Func<object, object?>? compiled = null;
        if (getEndpoint is not null)
        {
            var parameter = Expression.Parameter(typeof(object));
            compiled = Expression.Lambda<Func<object, object?>>(
                Expression.Convert(Expression.Call(getEndpoint, Expression.Convert(parameter, baseType!)), typeof(object)), parameter).Compile();
        }
        Volatile.Write(ref s_getter, new Getter(type, compiled));
        return compiled;
    }

    private sealed record Getter(Type ContextType, Func<object, object?>? GetEndpoint);
}
