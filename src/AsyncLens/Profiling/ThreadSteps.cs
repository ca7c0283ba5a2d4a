namespace AsyncLens.Profiling;

/// <summary>
/// The open steps of one thread, innermost last: steps nest on a thread (a continuation run inline). Also the call that
/// completed last on it, held until the runtime has run its continuations (a promise it joins says so meanwhile).
/// </summary>
internal sealed class ThreadSteps
{
    private readonly List<Step> _steps = [];

    public int Count => _steps.Count;

    public Step Top => _steps[^1];

    /// <summary>Completed on this thread, not recorded yet: its continuations may still say which promise it joins.</summary>
    public Invocation? Completed { get; set; }

    public void Push(Step step) => _steps.Add(step);

    public Step Pop()
    {
        var top = _steps[^1];
        _steps.RemoveAt(_steps.Count - 1);
        return top;
    }

    public void ReplaceTop(Step step) => _steps[^1] = step;

    /// <summary>The invocation of the innermost step that runs one (an async method or delegate task), if any.</summary>
    public Invocation? Running => _steps.Count > 0 ? _steps[^1].Invocation : null;

    /// <summary>Adds the time of a step that ran nested in the innermost one.</summary>
    public void AddChild(long ticks) => _steps[^1] = _steps[^1] with { Child = _steps[^1].Child + ticks };
}

/// <summary>
/// One open step: of an invocation (its code runs), or of nothing the profile follows (null); <see cref="Completing"/>:
/// the runtime runs the continuations of that completed call (a completion notification).
/// </summary>
internal readonly record struct Step(Invocation? Invocation, long Start, long Child = 0, Invocation? Completing = null);
