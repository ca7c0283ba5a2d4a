using System.Collections;
using System.Diagnostics;
using System.Reflection;

namespace AsyncLens.Symbols;

/// <summary>
/// The routes of an ASP.NET Core app's minimal-API handlers (<c>GET /product/{id}</c>), found without referencing
/// ASP.NET Core: the host's services come with the <c>Microsoft.Extensions.Hosting</c> DiagnosticListener's
/// <c>HostBuilt</c> event (or, for an engine started after that, with the first request's HttpContext from the
/// <c>Microsoft.AspNetCore</c> listener, which is then let go); its <c>EndpointDataSource</c> lists each endpoint with
/// its route pattern, HTTP methods and the handler's MethodInfo in its metadata. In process only: from outside the
/// handler keeps its lambda name.
/// </summary>
internal static class HandlerRoutes
{
    private const string HostingListener = "Microsoft.Extensions.Hosting";
    private const string AspNetCoreListener = "Microsoft.AspNetCore";
    private const string BeginRequest = "Microsoft.AspNetCore.Hosting.BeginRequest";
    private static readonly long s_rebuildTicks = Stopwatch.Frequency;
    private static readonly object s_gate = new();
    private static int s_watching;
    private static IServiceProvider? s_services;
    private static Dictionary<(Module, int), string>? s_routes;
    private static long s_builtAt;

    /// <summary>Starts watching for the app's host (once; cheap when the app is not ASP.NET Core).</summary>
    public static void Watch()
    {
        if (Interlocked.Exchange(ref s_watching, 1) != 0)
            return;
        try
        {
            DiagnosticListener.AllListeners.Subscribe(new Listeners());
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
        }
    }

    /// <summary>The route a handler serves (<c>GET /product/{id}</c>), if the app is ASP.NET Core and maps one to it.</summary>
    public static string? Of(MethodBase method)
    {
        if (Volatile.Read(ref s_services) is not { } services)
            return null;
        lock (s_gate)
        {
            if (s_routes is null || !s_routes.ContainsKey((method.Module, method.MetadataToken)) && Stopwatch.GetTimestamp() - s_builtAt > s_rebuildTicks)
            {
                s_routes = Read(services);
                s_builtAt = Stopwatch.GetTimestamp();
            }
            return s_routes.GetValueOrDefault((method.Module, method.MetadataToken));
        }
    }

    internal static void Found(IServiceProvider services) => Interlocked.CompareExchange(ref s_services, services, null);

    // EndpointDataSource.Endpoints: RouteEndpoint { RoutePattern.RawText, Metadata: [MethodInfo, HttpMethodMetadata { HttpMethods }, ...] }.
    private static Dictionary<(Module, int), string> Read(IServiceProvider services)
    {
        var routes = new Dictionary<(Module, int), string>();
        try
        {
            var sourceType = Type.GetType("Microsoft.AspNetCore.Routing.EndpointDataSource, Microsoft.AspNetCore.Routing", throwOnError: false);
            if (sourceType is null || services.GetService(sourceType) is not { } source
                || sourceType.GetProperty("Endpoints")?.GetValue(source) is not IEnumerable endpoints)
                return routes;
            foreach (var endpoint in endpoints)
            {
                var pattern = endpoint?.GetType().GetProperty("RoutePattern")?.GetValue(endpoint);
                if (pattern?.GetType().GetProperty("RawText")?.GetValue(pattern) is not string text
                    || endpoint!.GetType().GetProperty("Metadata")?.GetValue(endpoint) is not IEnumerable metadata)
                    continue;
                MethodInfo? handler = null;
                IEnumerable? verbs = null;
                foreach (var item in metadata)
                {
                    if (item is MethodInfo method)
                        handler ??= method;
                    else if (item?.GetType().GetProperty("HttpMethods")?.GetValue(item) is IEnumerable methods)
                        verbs ??= methods;
                }
                if (handler is null)
                    continue;
                var verb = verbs is null ? "" : string.Join("|", verbs.Cast<object>()) + " ";
                routes.TryAdd((handler.Module, handler.MetadataToken), verb + (text.StartsWith('/') ? text : "/" + text));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
        }
        return routes;
    }

    private sealed class Listeners : IObserver<DiagnosticListener>
    {
        public void OnNext(DiagnosticListener listener)
        {
            if (listener.Name == HostingListener)
                listener.Subscribe(new Events(null), (name, _, _) => name == "HostBuilt");
            else if (listener.Name == AspNetCoreListener && Volatile.Read(ref s_services) is null)
            {
                var events = new Events(listener);
                events.Subscription = listener.Subscribe(events, (name, _, _) => name == BeginRequest && Volatile.Read(ref s_services) is null);
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }

    // HostBuilt carries the IHost (its Services); BeginRequest an object with the request's HttpContext (its RequestServices).
    private sealed class Events(DiagnosticListener? request) : IObserver<KeyValuePair<string, object?>>
    {
        public IDisposable? Subscription { get; set; }

        public void OnNext(KeyValuePair<string, object?> value)
        {
            try
            {
                if (request is null)
                {
                    if (value.Value?.GetType().GetProperty("Services")?.GetValue(value.Value) is IServiceProvider services)
                        Found(services);
                    return;
                }
                foreach (var property in value.Value?.GetType().GetProperties() ?? [])
                {
                    var context = property.GetIndexParameters().Length == 0 ? property.GetValue(value.Value) : null;
                    if (context?.GetType().GetProperty("RequestServices")?.GetValue(context) is IServiceProvider services)
                    {
                        Found(services);
                        Subscription?.Dispose();
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }
}
