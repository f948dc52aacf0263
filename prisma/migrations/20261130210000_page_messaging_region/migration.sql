-- AlterTable
ALTER TABLE "Page" ADD COLUMN     "messagingRegion" TEXT;
