import { Job } from 'sidequest';
export class HelloJob extends Job {
  async run(name) { return `hello ${name}`; }
}
