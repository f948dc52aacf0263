-- AlterTable
ALTER TABLE "Event" ADD COLUMN     "priority" TEXT;
