-- DropIndex
DROP INDEX "Delivery_sourceId_batchNo_idx";

-- AlterTable
ALTER TABLE "Delivery" ADD COLUMN     "ambiguousAttempt" BOOLEAN NOT NULL DEFAULT false;

-- CreateIndex
CREATE INDEX "Delivery_sourceId_batchNo_status_idx" ON "Delivery"("sourceId", "batchNo", "status");

