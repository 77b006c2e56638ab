export const chainmailTasks = [];
