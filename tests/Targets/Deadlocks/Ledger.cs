namespace Deadlocks;

/// <summary>A transfer locks the accounts then the audit log; an audit locks the log then the accounts: each holds what the other waits for.</summary>
internal static class Ledger
{
    private static readonly object s_accounts = new();
    private static readonly List<string> s_auditLog = [];
    private static readonly Barrier s_bothHoldOne = new(2);

    public static void Start()
    {
        new Thread(Transfer) { IsBackground = true, Name = "transfer" }.Start();
        new Thread(Audit) { IsBackground = true, Name = "audit" }.Start();
    }

    private static void Transfer()
    {
        lock (s_accounts)
        {
            s_bothHoldOne.SignalAndWait();
            lock (s_auditLog) // @dl.transfer.lock
                s_auditLog.Add("transfer");
        }
    }

    private static void Audit()
    {
        lock (s_auditLog)
        {
            s_bothHoldOne.SignalAndWait();
            lock (s_accounts) // @dl.audit.lock
                s_auditLog.Add("audit");
        }
    }
}
