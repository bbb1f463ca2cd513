// A task module that fails to load.
throw new Error('this task module is broken');
