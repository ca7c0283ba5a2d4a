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

    /// <summary>Changes at every step's begin and end: the stretch of code a call was created in is still running while it has not.</summary>
    public long Stretch { get; private set; }

    /// <summary>
    /// Calls created in this thread's current stretch that completed before anything awaited them or joined them into a
    /// promise (under the accounting's lock): a <c>Task.WhenAll</c> made later in the stretch is presumed to be over them.
    /// </summary>
    public List<Invocation>? Early;

    public volatile bool HasEarly;

    /// <summary>
    /// The last <c>Task.WhenAll</c>/<c>Task.WhenAny</c> made on this thread (under the accounting's lock): a call of its
    /// stretch that completes on another thread while the promise is being made (it finds the call completed, and takes no
    /// continuation on it) joins it as the early ones do.
    /// </summary>
    public Invocation? LastJoin;

    public void Push(Step step)
    {
        Stretch++;
        _steps.Add(step);
    }

    public Step Pop()
    {
        Stretch++;
        var top = _steps[^1];
        _steps.RemoveAt(_steps.Count - 1);
        return top;
    }

    public void ReplaceTop(Step step) => _steps[^1] = step;

    /// <summary>The invocation whose code the innermost step runs (an async method or delegate task), if any.</summary>
    public Invocation? Running => _steps.Count > 0 && !_steps[^1].Ended ? _steps[^1].Invocation : null;

    /// <summary>Adds the time of a step that ran nested in the innermost one.</summary>
    public void AddChild(long ticks) => _steps[^1] = _steps[^1] with { Child = _steps[^1].Child + ticks };
}

/// <summary>
/// One open step: of an invocation (its code runs), or of nothing the profile follows (null); <see cref="Completing"/>:
/// the runtime runs the continuations of that completed call (a completion notification). <see cref="Ended"/>: the
/// invocation completed in this step and its time was counted then.
/// </summary>
internal readonly record struct Step(Invocation? Invocation, long Start, long Child = 0, Invocation? Completing = null, bool Ended = false);
