import { type DependencyList, type FormEvent, useEffect, useState } from "react";

import { errorText } from "./api";

/**
 * What ``load`` resolves to, loaded again whenever ``deps`` change (``null`` until it has, and
 * meanwhile); an answer that arrives after the next load started is dropped. ``load`` ``null``:
 * nothing to load now.
 */
export function useLoaded<T>(load: (() => Promise<T>) | null, deps: DependencyList): { value: T | null; error: string } {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    setValue(null);
    setError("");
    if (!load) return;
    let current = true;
    load()
      .then((loaded) => current && setValue(loaded))
      .catch((caught: unknown) => current && setError(errorText(caught)));
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the caller names what the load depends on
  }, deps);

  return { value, error };
}

/** A form's submit handler: ``action`` run with the page kept, its failure shown through ``setError``. */
export function submitted(setError: (error: string) => void, action: () => Promise<void>): (event: FormEvent) => Promise<void> {
  return async (event: FormEvent) => {
    event.preventDefault();
    setError("");
    try {
      await action();
    } catch (caught) {
      setError(errorText(caught));
    }
  };
}
