using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace AsyncLens.Agent;

/// <summary>
/// The console's wire format (docs/console.md): newline-delimited JSON over the Unix socket. The agent sends a
/// <c>hello</c> line on connecting; each request line (<c>{"id":1,"command":"ps","args":["--sort","age"]}</c>) gets
/// one answer line, kind <c>result</c> (<c>text</c> as the CLI prints it, <c>result</c> as data) or <c>error</c>
/// (<c>exit</c> 1: it could not be done, 2: bad input). Every line carries <see cref="Version"/>.
/// </summary>
internal static class ConsoleProtocol
{
    /// <summary>Changes when a field changes meaning or goes; new fields may appear within a version.</summary>
    public const int Version = 1;

    /// <summary>A request line longer than this is refused and its connection closed.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One line of JSON, newline included, as UTF-8.</summary>
    public static byte[] Line(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteNumber("version", Version);
            body(w);
            w.WriteEndObject();
        }
        var line = new byte[buffer.WrittenCount + 1];
        buffer.WrittenSpan.CopyTo(line);
        line[^1] = (byte)'\n';
        return line;
    }

    public static byte[] Error(JsonElement? id, string? command, int exit, string message) => Line(w =>
    {
        w.WriteString("kind", "error");
        WriteId(w, id);
        if (command is not null)
            w.WriteString("command", command);
        w.WriteNumber("exit", exit);
        w.WriteString("error", message);
    });

    /// <summary>The answer line of a request: its text (unless <paramref name="withText"/> is false: the request said <c>"text": false</c>, a result carries its data alone), its data, its exit code.</summary>
    public static byte[] Result(JsonElement? id, string command, ConsoleReply reply, bool withText = true) => Line(w =>
    {
        w.WriteString("kind", reply.Exit == 0 ? "result" : "error");
        WriteId(w, id);
        w.WriteString("command", command);
        w.WriteNumber("exit", reply.Exit);
        if (reply.Exit != 0)
            w.WriteString("error", reply.Text.TrimEnd('\n'));
        else if (withText || reply.Data is null)
            w.WriteString("text", reply.Text);
        if (reply.Data is { } data)
        {
            w.WritePropertyName("result");
            data(w);
        }
    });

    /// <summary>Parses a request line: its id (echoed), command and arguments, whether the answer is to carry its text, or why it is not one.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out JsonElement? id, out string command, out string[] args, out bool withText, out string error)
    {
        id = null;
        command = "";
        args = [];
        withText = true;
        try
        {
            using var doc = JsonDocument.Parse(line.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "a request is a JSON object: {\"command\":\"ps\",\"args\":[]}";
                return false;
            }
            if (root.TryGetProperty("id", out var idValue) && idValue.ValueKind is JsonValueKind.Number or JsonValueKind.String)
                id = idValue.Clone();
            if (!root.TryGetProperty("command", out var c) || c.ValueKind != JsonValueKind.String || c.GetString() is not { Length: > 0 } name)
            {
                error = "the request has no \"command\" (a string)";
                return false;
            }
            command = name;
            if (root.TryGetProperty("text", out var t))
            {
                if (t.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    error = "\"text\" is true or false";
                    return false;
                }
                withText = t.ValueKind == JsonValueKind.True;
            }
            if (root.TryGetProperty("args", out var a))
            {
                if (a.ValueKind != JsonValueKind.Array || a.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                {
                    error = "\"args\" is an array of strings";
                    return false;
                }
                args = a.EnumerateArray().Select(e => e.GetString()!).ToArray();
            }
            error = "";
            return true;
        }
        catch (JsonException ex)
        {
            error = "not JSON: " + ex.Message.Split('.')[0];
            return false;
        }
        catch (ArgumentException)
        {
            error = "not UTF-8 text";
            return false;
        }
    }

    private static void WriteId(Utf8JsonWriter w, JsonElement? id)
    {
        if (id is not { } value)
            return;
        w.WritePropertyName("id");
        value.WriteTo(w);
    }

    public static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}

/// <summary>
/// A command's answer: the text the CLI prints, the same as data (<see cref="Data"/> writes one JSON value), and an
/// exit code (0, or 1 when it could not do what was asked, 2 for bad input; then <see cref="Text"/> is the reason).
/// A command whose text costs (ps's table: a row per pending task) gives it as a function, run only when the answer
/// carries text: a client that reads the data alone (a request with <c>"text": false</c>: asynclens top, each second)
/// does not pay for a table it never shows.
/// </summary>
internal sealed class ConsoleReply
{
    private readonly Func<string>? _build;
    private string? _text;

    public ConsoleReply(string text, Action<Utf8JsonWriter>? data = null, int exit = 0) => (_text, Data, Exit) = (text, data, exit);

    public ConsoleReply(Func<string> text, Action<Utf8JsonWriter> data) => (_build, Data) = (text, data);

    public string Text => _text ??= _build!();

    public Action<Utf8JsonWriter>? Data { get; }

    public int Exit { get; }

    public static ConsoleReply Failed(string reason) => new(reason, null, 1);

    public static ConsoleReply BadInput(string reason) => new(reason, null, 2);
}
