// The bugs of the asyncio debugging chapter, in .NET form. Each step says what it does; debug mode
// (the startup hook) writes its reports to stderr as they happen.
using ChapterBugs;

Console.WriteLine("ChapterBugs: the asyncio chapter's bugs, in C#.");

Console.WriteLine("1. A request handler computes a thumbnail synchronously (the chapter's compute_thumbnail).");
await Thumbnails.HandleAsync(new Request(UserId: 42, Image: new byte[4096]));

Console.WriteLine("2. Sync-over-async: a thread-pool thread blocks on .Result.");
await Task.Run(() => Orders.PlaceOrder(7));

Console.WriteLine("3. Fire-and-forget: a welcome mail fails and nobody awaits it.");
Mailer.SendWelcome("ada@example.com");
await Task.Delay(1300);

Console.WriteLine("4. A task awaits a reply that can never come; the GC collects it (\"Task was destroyed but it is pending!\").");
Sessions.OpenAndForget();
await Task.Delay(1200);   // debug mode moves tasks to weak handles once a second
GC.Collect();             // a real app collects on its own; the demo does not want to wait for it
GC.WaitForPendingFinalizers();
await Task.Delay(400);

Console.WriteLine("5. A step that never yields: reported while it still runs (a hang in progress).");
await Indexer.RebuildAsync();

Console.WriteLine("6. Twenty requests queue for a backend stuck on a slow query; kill -USR1 <pid> dumps them all.");
var serving = Gateway.ServeAsync(requests: 20);
await Task.Delay(250);
Gateway.SignalSelf();     // as `kill -USR1 <pid>` from a shell would: the dump goes to stderr
await serving;            // the app was not stopped: the requests finish

Console.WriteLine("7. gather() losing exceptions: Task.WhenAll of two replica writes that both fail; the await shows the first only.");
await Replicas.WriteAsync("order:42");

Console.WriteLine("Done.");
