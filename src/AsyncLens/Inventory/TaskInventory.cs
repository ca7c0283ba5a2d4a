using AsyncLens.Reporting;
using AsyncLens.Reporting.Dumps;
using AsyncLens.Tracking;

namespace AsyncLens.Inventory;

/// <summary>Snapshots of pending async work, as <see cref="PendingTask"/>s or written as a tree, stacks or JSON.</summary>
internal sealed class TaskInventory(TaskTracking tracking, Func<int, TaskRecord?>? records = null, CreationSites? sites = null)
{
    /// <summary>The graph alone (what the app's threads wait for is only the registry copy inside it).</summary>
    public TaskGraph Snapshot() => tracking.Snapshot();

    /// <summary>The registry copy alone: the only part of a snapshot the app's threads can wait for (bench/snapshot.sh times it).</summary>
    public List<Task> RegistryCopy() => tracking.Registry.Snapshot();

    /// <summary>A pending task by id (what creation sites are resolved with).</summary>
    public Task? Find(int id) => tracking.Registry.Find(id);

    /// <summary>Turns this inventory's graphs into <see cref="PendingTask"/>s, with creation sites and ages in debug mode.</summary>
    public PendingTasks Projection => new(records, sites);

    /// <summary>What debug mode recorded of a task (its creation, its busy time), or null.</summary>
    public TaskRecord? Record(long id) => id > 0 && records is not null ? records((int)id) : null;

    /// <summary>How creation sites are worked out (debug mode), or null.</summary>
    public CreationSites? Sites => sites;

    /// <summary>True when creation sites and ages are recorded (debug mode).</summary>
    public bool RecordsCreation => records is not null;

    public IReadOnlyList<PendingTask> Tasks() => new PendingTasks(records, sites).From(tracking.Snapshot(), DateTime.UtcNow.Ticks);

    /// <summary>Takes a snapshot and writes it. The app's threads wait only while the registry is copied.</summary>
    public void Write(TextWriter writer, TaskDumpFormat format)
    {
        Write(writer, tracking.Snapshot(), new DumpHeader(Environment.ProcessId, DateTimeOffset.UtcNow), format, new PendingTasks(records, sites));
    }

    /// <summary>Writes a graph in one of the dump formats (the out-of-process reader writes the graphs it reads with this too).</summary>
    public static void Write(TextWriter writer, TaskGraph graph, DumpHeader header, TaskDumpFormat format, PendingTasks tasks)
    {
        switch (format)
        {
            case TaskDumpFormat.Tree:
                TreeDump.Write(writer, graph, header);
                break;
            case TaskDumpFormat.Stacks:
                StacksDump.Write(writer, graph, header);
                break;
            default:
                JsonTaskDump.Write(writer, graph, tasks.Project(graph, DateTime.UtcNow.Ticks), header);
                break;
        }
        writer.Flush();
    }
}
