using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AsyncLens.Profiling;

/// <summary>The ways a profile is written for tools: callgrind, speedscope JSON (the table for people: <see cref="ProfileTable"/>).</summary>
internal static class ProfileFormats
{
    public static void WriteCallgrind(TextWriter writer, AsyncProfile profile)
    {
        var totalWall = 0L;
        var totalOnThread = 0L;
        foreach (var m in profile.Methods)
        {
            totalWall += Micros(m.SelfWall);
            totalOnThread += Micros(m.OnThread);
        }
        var text = new StringBuilder();
        text.Append("# callgrind format\nversion: 1\ncreator: asynclens\n");
        text.Append(Invariant($"cmd: {Environment.GetCommandLineArgs().FirstOrDefault() ?? "?"}\n"));
        text.Append("positions: line\nevent: Wall : wall time, microseconds\nevent: OnThread : on-thread time, microseconds\nevents: Wall OnThread\n");
        text.Append(Invariant($"summary: {totalWall} {totalOnThread}\n"));
        // Names compressed as callgrind writes them ("fl=(1) path" once, then "fl=(1)"): callgrind_annotate then
        // knows a file given by fl= and by cfl= is the same one.
        var files = new Dictionary<string, int>(StringComparer.Ordinal);
        var functions = new Dictionary<string, int>(StringComparer.Ordinal);
        string Name(Dictionary<string, int> ids, string name)
        {
            if (ids.TryGetValue(name, out var id))
                return Invariant($"({id})");
            ids[name] = id = ids.Count + 1;
            return Invariant($"({id}) {name}");
        }
        var edges = profile.Calls.ToLookup(c => c.CallerSource);
        foreach (var m in profile.Methods.OrderBy(m => m.Method, StringComparer.Ordinal))
        {
            text.Append('\n').Append(Invariant($"fl={Name(files, m.File ?? "???")}\nfn={Name(functions, m.Method)}\n"));
            text.Append(Invariant($"{m.Line} {Micros(m.SelfWall)} {Micros(m.OnThread)}\n"));
            foreach (var call in edges[m.Source])
            {
                text.Append(Invariant($"cfl={Name(files, call.CalleeSource.File ?? "???")}\ncfn={Name(functions, call.Callee)}\ncalls={call.Calls} {call.CalleeSource.Line}\n"));
                text.Append(Invariant($"{m.Line} {Micros(call.Wall)} {Micros(call.OnThread)}\n"));
            }
        }
        text.Append(Invariant($"\ntotals: {totalWall} {totalOnThread}\n"));
        writer.Write(text.ToString());
    }

    public static void WriteSpeedscope(TextWriter writer, AsyncProfile profile)
    {
        var frames = new List<ProfiledMethod>();
        var frameIndex = new Dictionary<ProfiledMethod, int>();
        var stacks = new List<(int[] Stack, long Wall, long OnThread)>();
        var path = new List<int>();
        Walk(profile.Root);

        void Walk(CallNode node)
        {
            if (node.Method is { } method)
            {
                if (!frameIndex.TryGetValue(method, out var index))
                {
                    frameIndex[method] = index = frames.Count;
                    frames.Add(method);
                }
                path.Add(index);
                if (node.SelfWall > 0 || node.OnThread > 0)
                    stacks.Add(([.. path], Micros(TimeSpan.FromTicks(node.SelfWall)), Micros(TimeSpan.FromTicks(node.OnThread))));
            }
            foreach (var child in node.Children.OrderBy(c => c.Method!.Name, StringComparer.Ordinal))
                Walk(child);
            if (node.Method is not null)
                path.RemoveAt(path.Count - 1);
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("$schema", "https://www.speedscope.app/file-format-schema.json");
        json.WriteString("name", "asynclens profile");
        json.WriteString("exporter", "asynclens");
        json.WriteNumber("activeProfileIndex", 0);
        json.WriteStartObject("shared");
        json.WriteStartArray("frames");
        foreach (var f in frames)
        {
            json.WriteStartObject();
            json.WriteString("name", f.Name);
            if (f.File is not null)
            {
                json.WriteString("file", f.File);
                json.WriteNumber("line", f.Line);
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteStartArray("profiles");
        WriteProfile("wall time (async call tree)", s => s.Wall);
        WriteProfile("on-thread time (async call tree)", s => s.OnThread);
        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
        writer.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
        writer.Write("\n");

        void WriteProfile(string name, Func<(int[] Stack, long Wall, long OnThread), long> weight)
        {
            var kept = stacks.Where(s => weight(s) > 0).ToList();
            json.WriteStartObject();
            json.WriteString("type", "sampled");
            json.WriteString("name", name);
            json.WriteString("unit", "microseconds");
            json.WriteNumber("startValue", 0);
            json.WriteNumber("endValue", kept.Sum(weight));
            json.WriteStartArray("samples");
            foreach (var s in kept)
            {
                json.WriteStartArray();
                foreach (var i in s.Stack)
                    json.WriteNumberValue(i);
                json.WriteEndArray();
            }
            json.WriteEndArray();
            json.WriteStartArray("weights");
            foreach (var s in kept)
                json.WriteNumberValue(weight(s));
            json.WriteEndArray();
            json.WriteEndObject();
        }
    }

    private static long Micros(TimeSpan time) => time.Ticks / 10;

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
