using WorkItems;

// Each shape runs an async method twice, one run after the other: healthy (its first step, before the first await that
// parks, takes no time), then seeded (300 ms of Thread.Sleep there). "delegate-work", "work-item-work" and "consumer" are
// healthy both times: the delegate, the work item or the thread itself blocks (or waits for its first item), then calls an
// async method, as blocking work belongs there. Args: shape names, or "all".
var shapes = new (string Name, Func<int, Task> Run)[]
{
    ("scheduler", OwnScheduler.RunAsync),
    ("exclusive", Exclusive.RunAsync),
    ("start-new", StartNew.RunAsync),
    ("task-run", TaskRun.RunAsync),
    ("completed", Completed.RunAsync),
    ("work-item", WorkItem.RunAsync),
    ("timer", Ticks.RunAsync),
    ("elapsed", Elapsed.RunAsync),
    ("thread", OwnThread.RunAsync),
    ("delegate-work", DelegateWork.RunAsync),
    ("work-item-work", WorkItemWork.RunAsync),
    ("consumer", Consumer.RunAsync),
};
var only = args.Length == 0 || args[0] == "all" ? null : args;
foreach (var (name, run) in shapes)
{
    if (only is not null && !only.Contains(name))
        continue;
    await run(0);
    await run(Shapes.SeededMs);
    Console.WriteLine($"shape {name}");
}
Console.WriteLine("work items done");
