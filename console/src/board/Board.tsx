import { useLive } from '../live';

/** The alert board: every alert the user may read, live. (First version: the list only.) */
export function Board() {
  const alerts = useLive('alert', { sort: ['-createdAt'], limit: 200 });
  return (
    <section aria-labelledby="board-title">
      <h1 id="board-title">Alerts</h1>
      <ul class="alerts">
        {alerts.items.map((alert) => (
          <li key={alert.id} class={`alert ${alert.severity}`} data-alert-id={alert.id}>
            <strong>{alert.title}</strong> <span class="badge">{alert.severity}</span>
            {alert.acknowledgedAt && <span class="badge">acknowledged</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}
