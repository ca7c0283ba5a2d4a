namespace AsyncLens;

/// <summary>Settings of debug mode. <c>ASYNCLENS_*</c> environment variables set the same ones for the startup hook.</summary>
public sealed record AsyncDebugOptions
{
    /// <summary>A step that holds its thread at least this long is a <c>slow-step</c>; a blocking wait this long is a <c>blocking-wait</c>. Default 100 ms (asyncio's <c>slow_callback_duration</c>).</summary>
    public TimeSpan SlowStepThreshold { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A step still running after this long is reported as a <c>hung-step</c> while it runs. Default: ten times <see cref="SlowStepThreshold"/>.</summary>
    public TimeSpan? HungStepThreshold { get; init; }

    /// <summary>How long a faulted task nobody waits for may stay unobserved before it is reported (code may await it a moment later). Default 1 s.</summary>
    public TimeSpan UnobservedExceptionDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Where reports go. Default: standard error.</summary>
    public TextWriter? Output { get; init; }

    /// <summary>Text (a block per report, for people) or JSON (an object per line, for tools).</summary>
    public AsyncReportFormat Format { get; init; } = AsyncReportFormat.Text;

    /// <summary>Called with each report, on AsyncLens's reporter thread, after it is written.</summary>
    public Action<AsyncReport>? OnReport { get; init; }

    /// <summary>On Linux and macOS, <c>kill -USR1 &lt;pid&gt;</c> writes every pending task to <see cref="Output"/>. Default on.</summary>
    public bool DumpOnSignal { get; init; } = true;

    /// <summary>The shape of that dump. Default: async stacks.</summary>
    public TaskDumpFormat DumpFormat { get; init; } = TaskDumpFormat.Stacks;

    /// <summary>Time source for report timestamps.</summary>
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>What <see cref="Output"/> is, for the line that says reports could not be written to it (the file the startup hook opened).</summary>
    internal string? OutputName { get; init; }

    internal void Validate()
    {
        if (SlowStepThreshold <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(SlowStepThreshold), SlowStepThreshold, "The slow-step threshold must be positive.");
        if (HungStepThreshold is { } hung && hung < SlowStepThreshold)
            throw new ArgumentOutOfRangeException(nameof(HungStepThreshold), hung, "The hung-step threshold must be at least the slow-step threshold.");
        if (UnobservedExceptionDelay < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(UnobservedExceptionDelay), UnobservedExceptionDelay, "The delay cannot be negative.");
        if (!Enum.IsDefined(Format))
            throw new ArgumentOutOfRangeException(nameof(Format), Format, "Unknown report format.");
        if (!Enum.IsDefined(DumpFormat))
            throw new ArgumentOutOfRangeException(nameof(DumpFormat), DumpFormat, "Unknown dump format.");
    }
}

/// <summary>How reports are written.</summary>
public enum AsyncReportFormat
{
    /// <summary>One block per report, first line <c>asynclens: &lt;kind&gt;: ...</c>.</summary>
    Text,

    /// <summary>One JSON object per line (docs/report-schema.md).</summary>
    Json,
}
