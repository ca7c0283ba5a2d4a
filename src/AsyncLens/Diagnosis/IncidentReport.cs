using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace AsyncLens.Diagnosis;

/// <summary>
/// An incident as <c>asynclens watch</c> (and the in-process watchdog) writes it: once when it is diagnosed (when it
/// began, the signal that opened it, when the doctor read the process, the doctor's answer), and one line when it ends.
/// Text, or one JSON object a line.
/// </summary>
internal static class IncidentReport
{
    public static void WriteText(TextWriter writer, Incident incident, Diagnosis diagnosis)
    {
        writer.Write(string.Create(CultureInfo.InvariantCulture,
            $"incident {incident.Number} began {Time(incident.Started)}: {incident.SignalName}: {incident.Detail}\n"
            + $"diagnosed {Time(diagnosis.TakenAt)}, {(diagnosis.TakenAt - incident.Started).TotalSeconds:0.0} s after it began:\n"));
        DoctorReport.WriteText(writer, diagnosis);
        writer.Write("\n");
    }

    public static void WriteEndedText(TextWriter writer, Incident incident) =>
        writer.Write(string.Create(CultureInfo.InvariantCulture,
            $"incident {incident.Number} ended {Time(incident.Ended ?? incident.LastSignal)}: {Doctor.Plural(incident.Signals, "signal")} over {((incident.Ended ?? incident.LastSignal) - incident.Started).TotalSeconds:0.0} s, none for {Incidents.Quiet.TotalSeconds:0} s since\n\n"));

    public static void WriteJson(TextWriter writer, Incident incident, Diagnosis diagnosis)
    {
        var doctor = new StringWriter();
        DoctorReport.WriteJson(doctor, diagnosis);
        Write(writer, w =>
        {
            w.WriteNumber("incident", incident.Number);
            w.WriteString("began", Time(incident.Started));
            w.WriteString("signal", incident.SignalName);
            w.WriteString("detail", incident.Detail);
            w.WriteString("diagnosed", Time(diagnosis.TakenAt));
            w.WritePropertyName("diagnosis");
            w.WriteRawValue(doctor.ToString().TrimEnd('\n'));
        });
    }

    public static void WriteEndedJson(TextWriter writer, Incident incident) => Write(writer, w =>
    {
        w.WriteNumber("incident", incident.Number);
        w.WriteString("began", Time(incident.Started));
        w.WriteString("ended", Time(incident.Ended ?? incident.LastSignal));
        w.WriteNumber("signals", incident.Signals);
    });

    private static void Write(TextWriter writer, Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        writer.Write(System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n");
    }

    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
