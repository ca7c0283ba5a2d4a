using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Text;
using AsyncLens.Inventory;
using AsyncLens.Reporting.Dumps;
using AsyncLens.Runtime;

namespace AsyncLens.Agent;

/// <summary>
/// The console's <c>requests</c>: ASP.NET Core requests in flight (<see cref="InFlightRequests"/>) with the task tree
/// under each. A request's tasks are found by its HttpContext: the outermost pending async method whose state machine
/// holds it (a middleware's <c>InvokeAsync(HttpContext)</c>, a handler given the context) is the request's root, and
/// what it awaits, down, is the request's. <c>ps</c> names the request each task serves the same way.
/// </summary>
internal static class RequestCommands
{
    public static ConsoleReply Requests(TaskInventory inventory, InFlightRequests requests, ConsoleArgs args)
    {
        args.End();
        var now = DateTimeOffset.UtcNow;
        var inFlight = requests.Snapshot();
        // The task graph only to find the tasks of requests in flight: with none, the app is not held up at all.
        var roots = inFlight.Count == 0 ? new Dictionary<InFlight, List<TaskNode>>() : Roots(inventory.Snapshot(), inFlight);
        var text = new StringWriter();
        text.Write(string.Create(CultureInfo.InvariantCulture,
            $"asynclens: {Doctor(inFlight.Count)} in flight (pid {Environment.ProcessId}, {ConsoleProtocol.Timestamp(now)})\n"));
        if (!requests.SawAspNetCore)
            text.Write("no ASP.NET Core in this process (its Microsoft.AspNetCore DiagnosticListener was never created)\n");
        var described = inFlight.Select(r => (Request: r, What: r.Describe())).Where(r => r.What is not null).ToList();
        foreach (var (request, what) in described)
        {
            var (method, path, route) = what!.Value;
            text.Write(string.Create(CultureInfo.InvariantCulture,
                $"\nrequest {request.Number}: {method} {path}{(route is null ? "" : $" (route {route})")}, {TaskTable.Age(request.Age)}\n"));
            if (!roots.TryGetValue(request, out var nodes) || nodes.Count == 0)
            {
                text.Write("    no pending async method holds its HttpContext (its handler runs now, or awaits in code that does not keep the context)\n");
                continue;
            }
            foreach (var node in nodes)
                TreeDump.WriteSubtree(text, node, "    ");
        }
        return new ConsoleReply(text.ToString(), w =>
        {
            w.WriteStartObject();
            w.WriteNumber("pid", Environment.ProcessId);
            w.WriteString("timestamp", ConsoleProtocol.Timestamp(now));
            w.WriteBoolean("aspNetCore", requests.SawAspNetCore);
            w.WriteStartArray("requests");
            foreach (var (request, what) in described)
            {
                w.WriteStartObject();
                WriteRequest(w, request, what!.Value);
                w.WriteStartArray("roots");
                foreach (var node in roots.GetValueOrDefault(request) ?? [])
                    w.WriteNumberValue(node.Id);
                w.WriteEndArray();
                w.WriteStartArray("tasks");
                foreach (var node in Below(roots.GetValueOrDefault(request) ?? []))
                    w.WriteNumberValue(node.Id);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// For <c>ps</c>: the requests in flight (oldest first), and the request each pending task serves, by task id; both
    /// empty with none in flight.
    /// </summary>
    public static Serving Served(TaskGraph graph, InFlightRequests requests)
    {
        var served = new Dictionary<long, InFlight>();
        var inFlight = requests.Snapshot();
        if (inFlight.Count == 0)
            return new Serving(inFlight, served);
        foreach (var (request, nodes) in Roots(graph, inFlight))
        {
            foreach (var node in Below(nodes))
                served.TryAdd(node.Id, request);
        }
        return new Serving(inFlight, served);
    }

    /// <summary>A request's method, path, route and age as the JSON of <c>requests</c> (and <c>ps</c>) gives them.</summary>
    public static void WriteRequest(System.Text.Json.Utf8JsonWriter w, InFlight request, (string Method, string Path, string? Route) what)
    {
        w.WriteNumber("number", request.Number);
        w.WriteString("method", what.Method);
        w.WriteString("path", what.Path);
        if (what.Route is null)
            w.WriteNull("route");
        else
            w.WriteString("route", what.Route);
        w.WriteNumber("ageSeconds", Math.Round(request.Age.TotalSeconds, 3));
    }

    /// <summary><c>#3 GET /park</c>: the request as <c>ps</c>'s REQUEST column shows it.</summary>
    public static string Label(InFlight request) =>
        string.Create(CultureInfo.InvariantCulture, $"#{request.Number}") + (request.Describe() is { } what ? $" {what.Method} {what.Path}" : "");

    // Each request's outermost holders of its HttpContext.
    private static Dictionary<InFlight, List<TaskNode>> Roots(TaskGraph graph, List<InFlight> inFlight)
    {
        var byContext = inFlight.ToDictionary(r => r.Context, r => r, ReferenceEqualityComparer.Instance);
        var holders = new Dictionary<InFlight, List<TaskNode>>();
        if (byContext.Count == 0)
            return holders;
        foreach (var node in graph.Nodes)
        {
            if (node.Kind != NodeKind.AsyncMethod || node.Box is not { } box || box.StateMachine(node.Target) is not { } stateMachine)
                continue;
            foreach (var field in Tracking.RequestEndpoints.ContextFields(stateMachine.GetType()))
            {
                if (field.GetValue(stateMachine) is { } value && byContext.TryGetValue(value, out var request))
                {
                    if (!holders.TryGetValue(request, out var list))
                        holders[request] = list = [];
                    list.Add(node);
                    break;
                }
            }
        }
        foreach (var list in holders.Values)
        {
            var all = new HashSet<TaskNode>(list, ReferenceEqualityComparer.Instance);
            list.RemoveAll(n => TaskGraph.AwaitedByChain(n).Any(all.Contains));
            list.Sort((a, b) => a.Id.CompareTo(b.Id));
        }
        return holders;
    }

    // A node and everything it awaits, down.
    private static List<TaskNode> Below(IEnumerable<TaskNode> roots)
    {
        var seen = new HashSet<TaskNode>(ReferenceEqualityComparer.Instance);
        var work = new Stack<TaskNode>(roots);
        var below = new List<TaskNode>();
        while (work.TryPop(out var node))
        {
            if (!seen.Add(node))
                continue;
            if (node.IsCode)
                below.Add(node);
            foreach (var child in node.Awaits)
                work.Push(child);
        }
        return below;
    }

    private static string Doctor(int n) => Diagnosis.Doctor.Plural(n, "request");
}

/// <summary>The requests in flight when <c>ps</c> looked, and the request each pending task serves, by task id.</summary>
internal sealed record Serving(List<InFlight> InFlight, Dictionary<long, InFlight> Tasks);
