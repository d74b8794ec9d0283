/** A JSON value, pretty-printed. */
export function Json({ value, testId }: { value: unknown; testId?: string }) {
  return <pre className="json" data-testid={testId}>{JSON.stringify(value, null, 2)}</pre>;
}

export function ErrorNote({ error }: { error: string }) {
  return error ? <p className="error" role="alert">{error}</p> : null;
}
