namespace AsyncLens;

/// <summary>
/// Debug mode for async code, the .NET form of <c>asyncio.run(debug=True)</c>: reports slow and hung
/// steps, blocking waits on tasks, unobserved task exceptions and async methods collected while
/// pending, each with its async stack and creation site. Switch it on here, with
/// <c>asynclens run -- app</c>, or with <c>ASYNCLENS_DEBUG=1</c> and the startup hook.
/// </summary>
public static class AsyncDebug
{
    private static readonly object s_gate = new();
    private static DebugEngine? s_engine;

    /// <summary>True while debug mode is on.</summary>
    public static bool IsEnabled => Volatile.Read(ref s_engine) is not null;

    /// <summary>Switches debug mode on with default options (100 ms threshold, text to standard error).</summary>
    public static void Enable() => Enable(new AsyncDebugOptions());

    /// <summary>Switches debug mode on; if it is on already, it restarts with <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="PlatformNotSupportedException">The runtime lacks the internals debug mode reads.</exception>
    public static void Enable(AsyncDebugOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        lock (s_gate)
        {
            s_engine?.Dispose();
            s_engine = null;
            var engine = DebugEngine.Start(options, options.Output ?? Console.Error, out var error);
            Volatile.Write(ref s_engine, engine ?? throw new PlatformNotSupportedException("AsyncLens debug mode cannot run here: " + error));
        }
    }

    /// <summary>Switches debug mode off, writing what is still queued (and unobserved exceptions still pending).</summary>
    public static void Disable()
    {
        lock (s_gate)
        {
            s_engine?.Dispose();
            s_engine = null;
        }
    }
}
