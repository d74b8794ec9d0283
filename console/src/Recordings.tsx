import type OpenAI from "openai";
import { consoleURL, type ListPage } from "./api";
import { ErrorNote, Json } from "./Json";
import { useLoaded } from "./loading";

interface RecordingSummary {
  id: string;
  endpoint: string;
  model: string;
  test_id: string | null;
  bytes: number;
  status: number;
}

interface RecordingFile {
  id: string;
  test_id?: string | null;
  request: Record<string, unknown> & { body?: unknown };
  response: Record<string, unknown> & { body?: unknown };
}

function RecordingDetail({ client, id }: { client: OpenAI; id: string }) {
  const { value: recording, error } = useLoaded(
    () => client.get<RecordingFile>(consoleURL(`/recordings/${encodeURIComponent(id)}`)),
    [client, id],
  );

  if (error) return <ErrorNote error={error} />;
  if (!recording) return <p aria-busy="true">Loading {id}</p>;
  const { body: requestBody, ...request } = recording.request;
  const { body: responseBody, ...response } = recording.response;
  return (
    <article data-testid="recording-detail">
      <header><strong>{recording.id}</strong> <span className="muted">{recording.test_id}</span></header>
      <Json value={request} />
      <h6>The body sent upstream</h6>
      <Json value={requestBody} testId="recording-request-body" />
      <h6>The answer</h6>
      <Json value={response} />
      <Json value={responseBody} testId="recording-response-body" />
    </article>
  );
}

export function Recordings({ client, id }: { client: OpenAI; id: string }) {
  const { value: page, error } = useLoaded(
    id ? null : () => client.get<ListPage<RecordingSummary>>(consoleURL("/recordings")),
    [client, id],
  );

  if (id) {
    return (
      <section>
        <RecordingDetail client={client} id={id} />
        <a href="#/recordings">All recordings</a>
      </section>
    );
  }
  return (
    <section>
      <p className="muted">Upstream calls and tool invocations recorded by the server (its record modes).</p>
      <ErrorNote error={error} />
      <table data-testid="recording-list">
        <thead><tr><th>hash</th><th>endpoint</th><th>model</th><th>status</th><th>bytes</th><th>test id</th></tr></thead>
        <tbody>
          {page?.data.map((recording) => (
            <tr key={recording.id}>
              <td><a href={`#/recordings/${recording.id}`}>{recording.id.slice(0, 12)}</a></td>
              <td>{recording.endpoint}</td>
              <td>{recording.model}</td>
              <td>{recording.status}</td>
              <td>{recording.bytes}</td>
              <td className="muted">{recording.test_id}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page?.data.length === 0 && <p>No recordings.</p>}
    </section>
  );
}
