export function App() {
  return <main data-testid="app">Kith Journal</main>;
}
