namespace Bugs.Scenarios;

/// <summary>A pool thread blocked on a task that completes only much later: reported while it is blocked, once.</summary>
public static class Deadlock
{
    public static async Task RunAsync()
    {
        var gate = new TaskCompletionSource();
        var blocked = Task.Run(() => WaitForGate(gate.Task)); // @deadlock.created
        await Task.Delay(1500);
        gate.SetResult();
        await blocked;
    }

    private static void WaitForGate(Task gate) => gate.Wait(); // @deadlock.location
}
