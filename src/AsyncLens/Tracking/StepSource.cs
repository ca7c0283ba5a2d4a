namespace AsyncLens.Tracking;

/// <summary>Where debug mode learns a step's bounds from.</summary>
internal enum StepSourceKind
{
    /// <summary>The TPL events (<see cref="TplListener"/>), raised on the step's own thread as it begins and ends: every runtime.</summary>
    Tpl,

    /// <summary>
    /// .NET 11's <c>AsyncProfilerEventSource</c> (<see cref="AsyncEvents.EventSteps"/>), delivered in batches up to about
    /// 1.25 s late; the TPL events only for task creation, completion and waits. Opt-in (docs/async-events.md says
    /// what its reports lack).
    /// </summary>
    AsyncEvents,

    /// <summary>
    /// .NET 11's async events and nothing else: neither the TPL events nor the runtime's registry of active tasks, so that
    /// debug mode costs about what decoding the events does. Slow and hung steps only, with their callers from the
    /// events' stacks; no task ids, creation sites, blocking waits or task faults. Opt-in (docs/async-events.md).
    /// </summary>
    AsyncEventsOnly,
}

/// <summary>
/// The one place that decides which source a runtime's debug mode and in-process profiler take their steps from:
/// <see cref="StepSourceKind.Tpl"/> unless <c>ASYNCLENS_STEP_SOURCE=async-events</c> (or <c>async-events-only</c>) asks
/// for the runtime's async events and the runtime has them (.NET 11 and later). A value it does not know, or a runtime
/// without the source, is said in one line and the TPL events are used. The profiler takes either value the same way:
/// its engine on the async events (<see cref="Profiling.EventProfilerEngine"/>) needs nothing of the TPL events.
/// </summary>
internal static class StepSource
{
    public const string Variable = "ASYNCLENS_STEP_SOURCE";
    public const string TplValue = "tpl";
    public const string AsyncEventsValue = "async-events";
    public const string AsyncEventsOnlyValue = "async-events-only";

    /// <summary>The first runtime with <c>AsyncProfilerEventSource</c>.</summary>
    public const int AsyncEventsSince = 11;

    public static StepSourceKind Choose(string? setting, int runtimeMajor, TextWriter errors)
    {
        if (setting is not { Length: > 0 } || setting.Equals(TplValue, StringComparison.OrdinalIgnoreCase))
            return StepSourceKind.Tpl;
        var only = setting.Equals(AsyncEventsOnlyValue, StringComparison.OrdinalIgnoreCase);
        if (!only && !setting.Equals(AsyncEventsValue, StringComparison.OrdinalIgnoreCase))
        {
            errors.WriteLine($"asynclens: {Variable}='{setting}' is not {TplValue}, {AsyncEventsValue} or {AsyncEventsOnlyValue}; using {TplValue}");
            return StepSourceKind.Tpl;
        }
        if (runtimeMajor < AsyncEventsSince)
        {
            errors.WriteLine($"asynclens: {Variable}={(only ? AsyncEventsOnlyValue : AsyncEventsValue)} needs .NET {AsyncEventsSince} or later (this is .NET {runtimeMajor}); using {TplValue}");
            return StepSourceKind.Tpl;
        }
        return only ? StepSourceKind.AsyncEventsOnly : StepSourceKind.AsyncEvents;
    }

    /// <summary>The choice for this process, from its environment and the runtime it runs on.</summary>
    public static StepSourceKind FromEnvironment(TextWriter errors) =>
        Choose(Environment.GetEnvironmentVariable(Variable), Environment.Version.Major, errors);
}
