using AsyncLens.Attribution;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>The first steps of the user's async methods that ran inside a step (or a delegate task's run, a work item), as its frame recorded them.</summary>
internal sealed partial class SlowSteps
{
    // The user's async methods whose first step ran inside this one: the boxes created in it, in order (the
    // records of one step are linked until a nested step intervenes), each with the state it parked in. These methods
    // go on on other threads, and leave the registry as they complete (who awaits whom is in their records): one that
    // resumed since parked where its record noted at its first resume (DebugEngine.OnWorkBegin), completed or not; the
    // tasks and states of the others are read before anything slower. (Read from the registry only, such a first step
    // went unreported: tests/Targets/WorkItems' first shape under load, its 10 ms delay over before its run was judged.)
    private List<FirstStep> FirstSteps(Frame frame)
    {
        var created = new List<(TaskRecord Record, BoxInfo? Box, Task? Task, int State, long Gap)>();
        var previous = frame.Start;
        for (var record = frame.FirstCreated; record is not null; record = record.NextSibling)
        {
            if (record.Origin == TaskOrigin.AsyncMethod)
            {
                if (record is { Box: { } resumed, ParkedState: not AsyncState.Unknown })
                    created.Add((record, resumed, null, record.ParkedState, record.Created - previous));
                else if (findTask(record.Id) is { } task)
                    created.Add((record, null, task, BoxInfo.ReadStateOnce(task), record.Created - previous));
            }
            previous = record.Created;
        }
        var found = new List<FirstStep>(created.Count);
        foreach (var (record, resumed, task, state, gap) in created)
        {
            if ((resumed ?? BoxInfo.Of(task!)) is { } box && Symbols.CodeOrigin.IsUserCode(box.StateMachineType.Assembly))
                found.Add(new FirstStep(record, box.StateMachineType, state, gap));
        }
        return found;
    }
}
