namespace AsyncLens.Profiling;

/// <summary>
/// <c>Task.Run(async () => ...)</c> is one call: the delegate task that runs the lambda's first step and the box of
/// the lambda, which runs the rest, are recorded as one invocation named after the task, whichever is recorded first.
/// </summary>
internal sealed partial class ProfileAccounting
{
    // Under _gate. Task.Run(async () => ...) is one call: the delegate task runs the lambda's first step, the box it
    // created (the last, as the lambda suspends after its callees) the rest. That box carries both, named after the task.
    // A box that completed before its task did (WaitsForItsTask) is recorded now, with the task in it.
    private bool MergeIntoBox(Invocation task)
    {
        if (task.Kind is not (OperationKind.Delegate or OperationKind.ContinueWith) || task.LastBox is not { MergedFrom: null } box
            || (box.End != 0 && !box.WaitsForItsTask) || !_live.TryGetValue(box.Id, out var live) || live != box)
            return false;
        if (!_names.Runs(Resolve(task), task.OperationName, Resolve(box), box.OperationName))
            return false;
        box.MergedFrom = task;
        if (box.WaitsForItsTask)
        {
            box.WaitsForItsTask = false;
            _live.Remove(task.Id);
            Record(box);
        }
        return true;
    }

    // Under _gate. The box of Task.Run(async () => ...) completed before its delegate task did (the task's thread had not
    // raised the task's end since the lambda returned): it is kept until the task ends, then recorded with it.
    private bool WaitsForTask(Invocation box)
    {
        if (box.Kind != OperationKind.AsyncMethod || box.MergedFrom is not null
            || box.Creator is not { Kind: OperationKind.Delegate or OperationKind.ContinueWith, End: 0 } task || task.LastBox != box
            || !_live.TryGetValue(task.Id, out var live) || live != task
            || !_names.Runs(Resolve(task), task.OperationName, Resolve(box), box.OperationName))
            return false;
        box.WaitsForItsTask = true;
        return true;
    }

    // Under _gate. The delegate task a box not merged yet will merge into (the body of Task.Run(async () => ...) whose
    // task has not ended): the calls below the box are recorded under the task's name, as they will be once it merges.
    private Invocation? TaskOfBody(Invocation box) =>
        box is { Kind: OperationKind.AsyncMethod, MergedFrom: null, Creator: { Kind: OperationKind.Delegate or OperationKind.ContinueWith } task }
        && task.LastBox == box && task.Anchor is null && _live.TryGetValue(task.Id, out var live) && live == task
        && _names.Runs(Resolve(task), task.OperationName, Resolve(box), box.OperationName)
            ? task
            : null;

    // Under _gate. The box of Task.Run(async () => ...) recorded before its delegate task was (the box completed on another
    // thread while the task's own thread had not moved on since the lambda returned): the box takes the task in now.
    private void TakeInDelegate(Invocation box)
    {
        if (box.Kind != OperationKind.AsyncMethod || box.MergedFrom is not null
            || box.Creator is not { Kind: OperationKind.Delegate or OperationKind.ContinueWith, End: not 0 } task || task.LastBox != box
            || !_live.TryGetValue(task.Id, out var live) || live != task
            || !_names.Runs(Resolve(task), task.OperationName, Resolve(box), box.OperationName))
            return;
        box.MergedFrom = task;
        _live.Remove(task.Id);
    }
}
