using System.Globalization;

namespace AsyncLens.Bench;

/// <summary>
/// Debug mode switched on in code, as an app would, with reports kept in memory instead of standard
/// error: the benchmark counts them (a healthy workload must get none) and prints them at the end.
/// </summary>
internal sealed class DebugModeCapture : IDisposable
{
    private readonly StringWriter _text = new(CultureInfo.InvariantCulture);
    private bool _finished;

    private DebugModeCapture()
    {
        AsyncDebug.Enable(new AsyncDebugOptions { Output = TextWriter.Synchronized(_text) });
    }

    public static DebugModeCapture Start() => new();

    /// <summary>Switches debug mode off (which writes what is queued) and returns how many report lines it wrote.</summary>
    public int Finish()
    {
        if (_finished)
            return 0;
        _finished = true;
        AsyncDebug.Disable();
        var text = _text.ToString();
        // Every report, and every message of the engine about itself, starts with a line "asynclens: ...".
        var count = text.Split('\n').Count(line => line.StartsWith("asynclens:", StringComparison.Ordinal));
        if (text.Length > 0)
        {
            Console.Error.WriteLine($"AsyncLens.Bench: debug mode wrote {count} report(s) during a healthy workload:");
            Console.Error.Write(text);
        }
        return text.Length > 0 ? Math.Max(count, 1) : 0;
    }

    public void Dispose()
    {
        Finish();
        _text.Dispose();
    }
}
