// Pipelines: an ingest pipeline built on System.Threading.Channels, Parallel.ForEachAsync, PeriodicTimer and
// async iterators. Healthy: under debug mode it must stay silent.
//   dotnet Pipelines.dll [healthy]        the pipeline, a few seconds
//   dotnet Pipelines.dll healthy N        the same pipeline over N records (long enough to be read from outside while it runs)
//   dotnet Pipelines.dll yield N          N tasks that each yield once, started in batches of 10,000
//   dotnet Pipelines.dll parked           stages parked (channel reads, timer, workers), "parked PID", ends at a line on stdin
//   dotnet Pipelines.dll abandon          deliveries awaiting acknowledgements; one expires and is dropped uncompleted
//                                         (seeded bug: its waiter is abandoned), then memory is trimmed and it ends
//   dotnet Pipelines.dll summary          a worker prints a count it waits for with .Result (seeded bug: blocking wait)
using Pipelines;

switch (args)
{
    case [] or ["healthy"]:
        await Ingest.RunAsync(records: 20_000);
        break;
    case ["healthy", var records]:
        await Ingest.RunAsync(records: int.Parse(records, System.Globalization.CultureInfo.InvariantCulture));
        break;
    case ["yield", var n]:
        Console.WriteLine($"yielded {await Batches.YieldAsync(int.Parse(n, System.Globalization.CultureInfo.InvariantCulture))}");
        break;
    case ["parked"]:
        await Ingest.ParkAsync();
        break;
    case ["summary"]:
        await Summary.PrintAsync();
        break;
    case ["abandon"]:
        Console.WriteLine($"delivered {await Acks.RunAsync()}");
        break;
    default:
        Console.Error.WriteLine("usage: Pipelines [healthy | yield N | parked | abandon | summary]");
        return 2;
}
Console.WriteLine("pipelines finished");
return 0;
