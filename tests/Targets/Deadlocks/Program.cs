// Deadlocks: each mode deadlocks one way, prints "stuck PID" once it has, and stays so until a line on stdin (or a kill).
//   tasks    two lazily loaded caches whose loads need each other: tasks awaiting each other
//   thread   a flush run on a pool thread blocks (.Wait()) on a write that awaits that same flush
//   context  .Result on a single-threaded SynchronizationContext (a UI-style loop) on an async method that resumes on it
//   locks    two threads take two locks in opposite order (a transfer and an audit of the same ledger)
//   semaphore  an async method holding a SemaphoreSlim awaits one that waits for the same semaphore (a restock and its recount)
//   lock-type  two threads take two System.Threading.Lock objects in opposite order (a price list and its catalog)
//   rwlock     two threads take two ReaderWriterLockSlim write locks in opposite order (a cache and its index)
//   sem-wait   a thread holding a SemaphoreSlim taken with Wait() locks what another thread holds while it waits for the semaphore
//   rw-read    a ReaderWriterLockSlim reader waits for a lock whose holder waits for the write lock
//   mutex      a thread holding a Mutex waits for a lock whose holder waits for the mutex
//   sem-handle a thread holding a System.Threading.Semaphore waits for a lock whose holder waits for the semaphore
//   helper     a thread holding a SemaphoreSlim releases it in a method its finally calls; it waits for a lock whose holder waits for the semaphore
//   argument   a thread holding a SemaphoreSlim passes it to a method its finally calls to release it; it waits for a lock whose holder waits for the semaphore
//   passed-on  the same, released by a helper of a helper its finally calls (the first passes the semaphore to the second)
//   local      a thread holding a SemaphoreSlim kept in a local (looked up by name) waits for a lock whose holder waits for it
//   waits      not deadlocks: threads waiting on a ManualResetEventSlim and an AutoResetEvent nobody sets, and on a
//              SemaphoreSlim kept by code that returned without releasing it
//   abandoned  not a deadlock: eleven requests queued for a SemaphoreSlim that code took and returned without releasing
//   few-waiters  not a deadlock: three requests queued for a SemaphoreSlim that code took and returned without releasing
//   pileup     not a deadlock: a thousand quotes awaiting one exchange-rate fetch whose service never answers
//   queue      not a deadlock: twelve reservations queued for a semaphore whose holder waits for a supplier that never answers
//   every      all of the above at once, in one process (one read, one dump, every kind)
// Several modes may be given (`Deadlocks semaphore mutex waits`): each starts, in one process.
using Deadlocks;

if (args.Length == 0 || !args.All(Start))
{
    Console.Error.WriteLine("usage: Deadlocks tasks|thread|context|locks|semaphore|lock-type|rwlock|sem-wait|rw-read|mutex|sem-handle|helper|argument|passed-on|local|waits|abandoned|few-waiters|pileup|queue|every...");
    return 2;
}
Thread.Sleep(1000); // it has deadlocked by now: nothing it waits for takes this long
Console.WriteLine($"stuck {Environment.ProcessId}");
Console.ReadLine();
return 0;

static bool Start(string mode)
{
    switch (mode)
    {
        case "tasks":
            Catalog.Start();
            break;
        case "thread":
            Journal.Start();
            break;
        case "context":
            UiLoop.Start();
            break;
        case "locks":
            Ledger.Start();
            break;
        case "semaphore":
            Stock.Start();
            break;
        case "lock-type":
            PriceList.Start();
            break;
        case "rwlock":
            CacheIndex.Start();
            break;
        case "sem-wait":
            Shelf.Start();
            break;
        case "rw-read":
            PriceTable.Start();
            break;
        case "mutex":
            Export.Start();
            break;
        case "sem-handle":
            Spooler.Start();
            break;
        case "helper":
            Warehouse.Start();
            break;
        case "argument":
            Bays.Start();
            break;
        case "passed-on":
            Yards.Start();
            break;
        case "local":
            Invoices.Start();
            break;
        case "waits":
            Settlement.Start();
            break;
        case "abandoned":
            Coupons.Start();
            break;
        case "few-waiters":
            Vouchers.Start();
            break;
        case "pileup":
            Quotes.Start();
            break;
        case "queue":
            Reservations.Start();
            break;
        case "every":
            Catalog.Start();
            Journal.Start();
            UiLoop.Start();
            Ledger.Start();
            Stock.Start();
            PriceList.Start();
            CacheIndex.Start();
            Shelf.Start();
            PriceTable.Start();
            Export.Start();
            Spooler.Start();
            Warehouse.Start();
            Yards.Start();
            Invoices.Start();
            Settlement.Start();
            Reservations.Start();
            Coupons.Start();
            Vouchers.Start();
            Quotes.Start();
            break;
        default:
            return false;
    }
    return true;
}
