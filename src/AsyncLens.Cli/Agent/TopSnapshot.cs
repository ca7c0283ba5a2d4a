using System.Globalization;
using System.Text.Json;
using AsyncLens.Diagnosis;

namespace AsyncLens.Cli.Agent;

/// <summary>One pending task as <c>asynclens top</c> shows it: the fields of <c>ps</c>'s JSON it has columns for.</summary>
internal sealed record TopTask(long Id, string State, string Method, string? File, int Line, double? AgeSeconds, double? BusySeconds, int? Steps);

/// <summary>
/// One refresh of <c>asynclens top</c>: what the agent's <c>ps</c> (with <c>--sort busy</c> in debug mode, for busy
/// time and steps) and <c>pool</c> answered. <see cref="Error"/>: why there is no table this time (the agent said so).
/// </summary>
internal sealed record TopSnapshot(DateTimeOffset Time, IReadOnlyList<TopTask> Tasks, bool HasBusy, string? Starvation, string? Error)
{
    /// <summary>The steps running past debug mode's hung-step threshold (from <c>threads</c>, in debug mode).</summary>
    public IReadOnlyList<TopStep> HungSteps { get; init; } = [];

    /// <summary>The ASP.NET Core requests in flight (from <c>requests</c>).</summary>
    public IReadOnlyList<TopRequest> Requests { get; init; } = [];

    /// <summary>The async methods that ended, newest first (from <c>ps-terminated</c>, asked only while top shows them).</summary>
    public TopHistory? Ended { get; init; }

    /// <param name="ended">Ask <c>ps-terminated</c> too (the view of ended tasks is on).</param>
    public static TopSnapshot Take(IConsoleSession session, bool debugMode, bool ended = false)
    {
        // top reads ps' and threads' data alone (their tables are built only for a client that prints them); pool's
        // text gives the starvation line.
        var ps = session.Send("ps", debugMode ? ["--sort", "busy"] : [], text: false);
        var pool = session.Send("pool", []);
        var threads = debugMode ? session.Send("threads", [], text: false) : null;
        var history = ended ? TopHistory.Parse(session.Send("ps-terminated", [])) : null;
        // ps's JSON lists the requests in flight with their ages: no second snapshot of the app's tasks for `requests`.
        return Parse(ps, pool) with { HungSteps = Hung(threads), Requests = InFlight(ps), Ended = history };
    }

    /// <summary>From the agent's answer lines to <c>ps</c> and <c>pool</c> (docs/console.md, the protocol).</summary>
    public static TopSnapshot Parse(string psAnswer, string? poolAnswer)
    {
        using var ps = JsonDocument.Parse(psAnswer);
        var root = ps.RootElement;
        if (!root.TryGetProperty("result", out var result) || result.ValueKind != JsonValueKind.Object)
            return new TopSnapshot(DateTimeOffset.UtcNow, [], false, null, root.TryGetProperty("error", out var e) ? e.GetString() : "ps failed");
        var busy = new Dictionary<long, (double Seconds, int Steps)>();
        var hasBusy = result.TryGetProperty("busy", out var busyList);
        if (hasBusy)
        {
            foreach (var b in busyList.EnumerateArray())
                busy[b.GetProperty("id").GetInt64()] = (b.GetProperty("busySeconds").GetDouble(), b.GetProperty("steps").GetInt32());
        }
        var tasks = new List<TopTask>();
        foreach (var t in result.GetProperty("tasks").EnumerateArray())
        {
            var id = t.GetProperty("id").GetInt64();
            string? file = null;
            var line = 0;
            if (t.TryGetProperty("parkedAt", out var at) && at.ValueKind == JsonValueKind.Object)
            {
                file = at.GetProperty("file").GetString();
                line = at.GetProperty("line").GetInt32();
            }
            double? age = t.TryGetProperty("ageSeconds", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetDouble() : null;
            var hasRecord = busy.TryGetValue(id, out var r);
            tasks.Add(new TopTask(id, t.GetProperty("state").GetString() ?? "?", t.GetProperty("method").GetString() ?? "?", file, line, age,
                hasRecord ? r.Seconds : null, hasRecord ? r.Steps : null));
        }
        var time = DateTimeOffset.Parse(result.GetProperty("timestamp").GetString()!, CultureInfo.InvariantCulture);
        return new TopSnapshot(time, tasks, hasBusy, Starved(poolAnswer), null);
    }

    /// <summary>The threads whose step the agent calls hung (<c>threads</c>' <c>step.hung</c>), longest first.</summary>
    public static IReadOnlyList<TopStep> Hung(string? threadsAnswer)
    {
        if (Result(threadsAnswer) is not { } result || !result.RootElement.GetProperty("result").TryGetProperty("threads", out var threads))
            return [];
        using (result)
        {
            var hung = new List<TopStep>();
            foreach (var t in threads.EnumerateArray())
            {
                if (!t.TryGetProperty("step", out var step) || !step.GetProperty("hung").GetBoolean())
                    continue;
                var at = step.GetProperty("resumedAt");
                hung.Add(new TopStep(step.TryGetProperty("taskId", out var task) ? task.GetInt64() : null, step.GetProperty("method").GetString() ?? "?",
                    at.ValueKind == JsonValueKind.Object ? $"{Path.GetFileName(at.GetProperty("file").GetString())}:{at.GetProperty("line").GetInt32().ToString(CultureInfo.InvariantCulture)}" : null,
                    step.GetProperty("runningSeconds").GetDouble(), t.TryGetProperty("id", out var id) ? id.GetInt32() : null, t.GetProperty("osId").GetInt32(),
                    step.TryGetProperty("handler", out var handler) && handler.ValueKind == JsonValueKind.True));
            }
            return [.. hung.OrderByDescending(h => h.Seconds).ThenBy(h => h.TaskId)];
        }
    }

    /// <summary>The requests in flight (the <c>requests</c> of <c>ps</c>' or <c>requests</c>' answer), oldest first.</summary>
    public static IReadOnlyList<TopRequest> InFlight(string? requestsAnswer)
    {
        if (Result(requestsAnswer) is not { } result || !result.RootElement.GetProperty("result").TryGetProperty("requests", out var requests))
            return [];
        using (result)
        {
            // An agent older than the ages in ps's list gives none: no request warnings from it.
            return [.. requests.EnumerateArray().Where(r => r.TryGetProperty("ageSeconds", out _)).Select(r => new TopRequest(
                    r.GetProperty("method").GetString() ?? "?", r.GetProperty("path").GetString() ?? "?",
                    r.TryGetProperty("route", out var route) ? route.GetString() : null, r.GetProperty("ageSeconds").GetDouble()))
                .OrderByDescending(r => r.AgeSeconds)];
        }
    }

    private static JsonDocument? Result(string? answer)
    {
        if (answer is null)
            return null;
        var doc = JsonDocument.Parse(answer);
        if (doc.RootElement.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.Object)
            return doc;
        doc.Dispose();
        return null;
    }

    /// <summary>The pool's own starvation line (<c>pool-starvation: 2 of 2 pool threads blocked; ...</c>) when it says it is starved.</summary>
    private static string? Starved(string? poolAnswer)
    {
        if (poolAnswer is null)
            return null;
        using var pool = JsonDocument.Parse(poolAnswer);
        var root = pool.RootElement;
        if (!root.TryGetProperty("result", out var result) || !result.TryGetProperty("starved", out var starved) || starved.ValueKind != JsonValueKind.True)
            return null;
        var text = root.GetProperty("text").GetString() ?? "";
        return text.Split('\n').FirstOrDefault(l => l.StartsWith(VerdictKinds.PoolStarvation + ":", StringComparison.Ordinal)) ?? VerdictKinds.PoolStarvation;
    }
}

/// <summary>
/// A step running past debug mode's hung-step threshold: its task, method, the await it resumed from, on which thread;
/// or a request's handler run inline from its start (<paramref name="Handler"/>: no task, <paramref name="ResumedAt"/> its first line).
/// </summary>
internal sealed record TopStep(long? TaskId, string Method, string? ResumedAt, double Seconds, int? ThreadId, int OsThreadId, bool Handler = false);

/// <summary>An ASP.NET Core request in flight.</summary>
internal sealed record TopRequest(string Method, string Path, string? Route, double AgeSeconds);

/// <summary>One ended async method as <c>asynclens top</c> shows it: the fields of <c>ps-terminated</c>'s JSON it has columns for.</summary>
internal sealed record TopEndedTask(long Id, string How, string Method, string? File, int Line, double? LivedSeconds, DateTimeOffset Ended);

/// <summary>
/// What <c>ps-terminated</c> answered: the ended async methods kept (newest first), how many the ring keeps and how many
/// ended since the console started; <see cref="Error"/>: why there are none to show (the agent said so: the history is off).
/// </summary>
internal sealed record TopHistory(IReadOnlyList<TopEndedTask> Tasks, int Kept, long Total, string? Error)
{
    public static TopHistory Parse(string answer)
    {
        using var doc = JsonDocument.Parse(answer);
        var root = doc.RootElement;
        if (!root.TryGetProperty("result", out var result) || result.ValueKind != JsonValueKind.Object)
            return new TopHistory([], 0, 0, root.TryGetProperty("error", out var e) ? e.GetString() : "ps-terminated failed");
        var tasks = new List<TopEndedTask>();
        foreach (var t in result.GetProperty("tasks").EnumerateArray())
        {
            var at = t.GetProperty("lastParkedAt");
            var lived = t.GetProperty("lived");
            tasks.Add(new TopEndedTask(t.GetProperty("id").GetInt64(), t.GetProperty("how").GetString() ?? "?", t.GetProperty("method").GetString() ?? "?",
                at.ValueKind == JsonValueKind.Object ? at.GetProperty("file").GetString() : null,
                at.ValueKind == JsonValueKind.Object ? at.GetProperty("line").GetInt32() : 0,
                lived.ValueKind == JsonValueKind.Number ? lived.GetDouble() : null,
                DateTimeOffset.Parse(t.GetProperty("ended").GetString()!, CultureInfo.InvariantCulture)));
        }
        return new TopHistory(tasks, result.GetProperty("kept").GetInt32(), result.GetProperty("total").GetInt64(), null);
    }
}
