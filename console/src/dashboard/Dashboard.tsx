/** The admins' dashboard: live charts of the `stats` event. (Not built yet.) */
export function Dashboard() {
  return <h1>Dashboard</h1>;
}
